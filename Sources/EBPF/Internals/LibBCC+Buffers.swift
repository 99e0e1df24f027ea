internal import CBCC

#if canImport(Glibc)
import Glibc
#endif

/// What a perf or ring buffer's C reader calls for each record and each loss report. The C
/// side reaches it through an unretained cookie; the buffer source that owns the reader
/// keeps it alive until the reader is freed.
final class BufferCallbacks: Sendable {
    /// Called with the record's bytes, valid only during the call.
    let onRecord: @Sendable (UnsafeRawBufferPointer) -> Void
    /// Called with the number of records the kernel dropped since the last report.
    let onLost: @Sendable (UInt64) -> Void

    init(
        onRecord: @escaping @Sendable (UnsafeRawBufferPointer) -> Void,
        onLost: @escaping @Sendable (UInt64) -> Void
    ) {
        self.onRecord = onRecord
        self.onLost = onLost
    }

    var cookie: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }

    /// Runs `body` with the callbacks behind a C cookie, without retaining them: the source
    /// that owns the reader keeps them alive for as long as the reader can call back.
    static func with<T>(_ cookie: UnsafeMutableRawPointer?, _ body: (BufferCallbacks) -> T) -> T {
        Unmanaged<BufferCallbacks>.fromOpaque(cookie!)._withUnsafeGuaranteedRef(body)
    }
}

extension LibBCC {
    /// A libbcc `struct perf_reader *`: one CPU's mmap'ed perf ring.
    typealias PerfReader = OpaquePointer
    /// A libbpf `struct ring_buffer *` over a `BPF_MAP_TYPE_RINGBUF` map.
    typealias RingBuffer = OpaquePointer

    /// Opens one CPU's perf ring. `pageCount` must be a power of two; the kernel wakes the
    /// reader after `wakeupEvents` records.
    static func openPerfReader(
        callbacks: BufferCallbacks, pageCount: Int32, cpu: Int32, wakeupEvents: Int32
    ) -> (PerfReader?, Int32) {
        var options = bcc_perf_buffer_opts(pid: -1, cpu: cpu, wakeup_events: wakeupEvents)
        Glibc.errno = 0
        let reader = bpf_open_perf_buffer_opts(
            { cookie, data, size in
                BufferCallbacks.with(cookie) {
                    $0.onRecord(UnsafeRawBufferPointer(start: data, count: Int(size)))
                }
            },
            { cookie, lost in
                BufferCallbacks.with(cookie) { $0.onLost(lost) }
            },
            callbacks.cookie, pageCount, &options)
        return (reader.map(OpaquePointer.init), Glibc.errno)
    }

    static func perfReaderFD(_ reader: PerfReader) -> Int32 {
        perf_reader_fd(reader)
    }

    /// Reads every record waiting in the ring, calling the callbacks for each.
    static func readPerfReader(_ reader: PerfReader) {
        perf_reader_event_read(reader)
    }

    static func freePerfReader(_ reader: PerfReader) {
        perf_reader_free(UnsafeMutableRawPointer(reader))
    }

    static func openRingBuffer(mapFD: Int32, callbacks: BufferCallbacks) -> (RingBuffer?, Int32) {
        Glibc.errno = 0
        let ring = bpf_new_ringbuf(
            mapFD,
            { cookie, data, size in
                BufferCallbacks.with(cookie) { $0.onRecord(UnsafeRawBufferPointer(start: data, count: size)) }
                return 0
            },
            callbacks.cookie)
        return (ring.map(OpaquePointer.init), Glibc.errno)
    }

    /// Reads every record waiting in the ring buffer without blocking.
    static func consumeRingBuffer(_ ring: RingBuffer) {
        _ = bpf_consume_ringbuf(ring)
    }

    static func freeRingBuffer(_ ring: RingBuffer) {
        bpf_free_ringbuf(ring)
    }
}
