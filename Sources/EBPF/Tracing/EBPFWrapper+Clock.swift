import EBPFKernel

extension EBPFWrapper {
    /// The kernel's time now, on the clock of ``ProbeEvent/timestamp`` and of
    /// `bpf_ktime_get_ns` (`CLOCK_MONOTONIC`, nanoseconds), as bcc's `BPF.monotonic_time()`.
    public static func monotonicTime() -> UInt64 {
        KernelClock.now()
    }
}
