/// The buffer a closure probe's events travel through from the kernel.
public enum EventTransport: Sendable, Hashable {
    /// The ring buffer where the probe is emitted and the kernel has ring buffers (5.8+),
    /// perf buffers otherwise.
    case automatic
    /// One perf ring per CPU (`BPF_PERF_OUTPUT`): the record is built in a per-CPU scratch
    /// array, then copied into the ring, which wakes the reader every
    /// ``PerfBufferOptions/wakeupEvents`` records.
    case perfBuffer
    /// One BPF ring buffer for all CPUs (`BPF_MAP_TYPE_RINGBUF`, Linux 5.8): the record is
    /// built in place (`bpf_ringbuf_reserve`, `bpf_ringbuf_submit`), in the order the
    /// events happened across CPUs, and the reader is woken only when records take the ring past a quarter
    /// full (it drains every 10 ms anyway). Emitted probes only (tracepoints and
    /// syscalls); a record that finds the ring full is counted lost.
    case ringBuffer
}

extension EventTransport {
    /// A ring buffer's size for records of `recordSize` bytes: the memory the perf buffers
    /// it replaces would take on all CPUs (``PerfBufferOptions/automaticPageCount(recordSize:)``
    /// pages, or `pageCount` when given, per CPU), so that it holds as many records as they
    /// would, as a power of two from 256 KiB to 16 MiB. One ring serves every CPU, drained
    /// at each quarter and every 10 ms; its pages are mapped twice (so that no record
    /// wraps), and count twice in the reader's resident memory.
    static func ringBytes(recordSize: Int, cpus: Int, pageCount: Int?) -> Int {
        let perCPU = (pageCount ?? PerfBufferOptions.automaticPageCount(recordSize: recordSize)) * 4096
        var bytes = 1 << 18
        while bytes < perCPU * max(1, cpus), bytes < PerfBufferOptions.automaticBytesPerBuffer { bytes <<= 1 }
        return bytes
    }
}
