/// A `BPF_RINGBUF_OUTPUT` table (one ring shared by all CPUs), read by the polling thread.
///
/// The map's own fd is pollable: the kernel signals it when records are committed.
final class RingBufferSource: EventSource, @unchecked Sendable {
    // @unchecked Sendable: `ring` and `module` change only in release(). The poller calls
    // drain() on its thread only and release() exactly once when no drain runs (EventPoller's
    // contract).

    let pollDescriptors: [Int32]
    let needsTimedDrain = false
    private var ring: BPFRingBuffer?
    private let callbacks: BufferCallbacks
    /// Keeps the module, and so the ring buffer map, alive until release(); dropped there so a
    /// handle that outlives the buffer does not keep the program's file descriptors open.
    private var module: BPFModule?

    init(table: TableInfo, module: BPFModule, callbacks: BufferCallbacks) throws(EBPFError) {
        do {
            ring = try BPFRingBuffer(mapFD: table.fd, dataSize: table.maxEntries)
        } catch {
            throw EBPFError.fromErrno(
                .systemCallFailed, "could not map the ring buffer '\(table.name)'",
                call: error.call, errno: error.errno)
        }
        self.pollDescriptors = [table.fd]
        self.callbacks = callbacks
        self.module = module
    }

    /// Reads the records committed when the read began: a ring that keeps filling cannot
    /// hold the polling thread.
    func drain() {
        ring?.read(into: callbacks)
    }

    func release() {
        ring = nil
        module = nil
    }
}
