import EBPFKernel
import EBPFProgram

/// A `BPF_RINGBUF_OUTPUT` table (one ring shared by all CPUs), read by the polling thread.
///
/// The map's own fd is pollable: the kernel signals it when records are committed.
final class RingBufferSource: EventSource, @unchecked Sendable {
    // @unchecked Sendable: `ring` and `map` change only in release(). The poller calls
    // drain() on its thread only and release() exactly once when no drain runs (EventPoller's
    // contract).

    let pollDescriptors: [Int32]
    let needsTimedDrain = false
    private var ring: BPFRingBuffer?
    /// The source's own descriptor of the map, which the poller waits on.
    private var map: FileDescriptor?
    private let callbacks: BufferCallbacks

    init(table: TableInfo, module: BPFModule, callbacks: BufferCallbacks) throws(EBPFError) {
        var map: FileDescriptor?
        ring = try module.withTable(table.name) { (fd) throws(EBPFError) -> BPFRingBuffer in
            do throws(SystemCallFailure) {
                map = try FileDescriptor.duplicate(fd)
                return try BPFRingBuffer(mapFD: fd, dataSize: table.maxEntries)
            } catch {
                throw error.error(.systemCallFailed, "could not map the ring buffer '\(table.name)'")
            }
        }
        guard let map = map.take() else { preconditionFailure("mapped without a descriptor") }
        self.pollDescriptors = [map.rawValue]
        self.map = Optional(map)
        self.callbacks = callbacks
    }

    /// Reads the records committed when the read began: a ring that keeps filling cannot
    /// hold the polling thread.
    func drain() {
        ring?.read(into: callbacks)
        callbacks.afterDrain()
    }

    func release() {
        ring = nil
        map = nil
    }
}
