#if canImport(Glibc)
import Glibc
#endif

/// The clock BPF programs read with `bpf_ktime_get_ns`: `CLOCK_MONOTONIC`, in nanoseconds
/// since boot (suspended time excluded).
public enum KernelClock {
    /// The time now, as bcc's `BPF.monotonic_time()`: compare it with
    /// `ProbeEvent.timestamp`.
    public static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }
}
