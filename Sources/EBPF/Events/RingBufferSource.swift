/// A `BPF_RINGBUF_OUTPUT` table (one ring shared by all CPUs), read by the polling thread.
///
/// The map's own fd is pollable: the kernel signals it when records are committed.
final class RingBufferSource: EventSource, @unchecked Sendable {
    // @unchecked Sendable: `ring` never changes after init; `module` changes only in
    // release(). The poller calls drain() on its thread only and release() exactly once when
    // no drain runs (EventPoller's contract).

    let pollDescriptors: [Int32]
    let needsTimedDrain = false
    private let ring: LibBCC.RingBuffer
    private let callbacks: BufferCallbacks
    /// Keeps the module, and so the ring buffer map, alive until release(); dropped there so a
    /// handle that outlives the buffer does not keep the program's file descriptors open.
    private var module: BPFModule?

    init(table: TableInfo, module: BPFModule, callbacks: BufferCallbacks) throws(EBPFError) {
        let (ring, error) = LibBCC.openRingBuffer(mapFD: table.fd, callbacks: callbacks)
        guard let ring else {
            throw EBPFError.fromErrno(
                .systemCallFailed, "could not map the ring buffer '\(table.name)'",
                call: "bpf_new_ringbuf", errno: error)
        }
        self.ring = ring
        self.pollDescriptors = [table.fd]
        self.callbacks = callbacks
        self.module = module
    }

    func drain() {
        LibBCC.consumeRingBuffer(ring)
    }

    func release() {
        LibBCC.freeRingBuffer(ring)
        module = nil
    }
}
