/// A `BPF_PERF_OUTPUT` table's per-CPU perf rings, read by the polling thread.
final class PerfBufferSource: EventSource, @unchecked Sendable {
    // @unchecked Sendable: `rings` changes only in release(). The poller calls
    // drain() on its thread only and release() exactly once when no drain runs (EventPoller's
    // contract).

    let pollDescriptors: [Int32]
    let needsTimedDrain: Bool
    private var rings: [PerfRing]
    private let callbacks: BufferCallbacks

    /// Opens one perf ring per online CPU and stores each ring's fd in the table at that
    /// CPU's index, which is where `perf_submit` on that CPU writes.
    /// `recordSize` (0 when unknown) sizes the ring when `options.pageCount` is nil.
    init(
        table: TableInfo, module: BPFModule, options: PerfBufferOptions, recordSize: Int,
        callbacks: BufferCallbacks
    ) throws(EBPFError) {
        try options.validate()
        let pageCount = options.pages(forRecordSize: recordSize)
        var rings: [PerfRing] = []
        for cpu in try SystemFiles.onlineCPUs() {
            let ring: PerfRing
            do {
                ring = try PerfRing(cpu: cpu, pageCount: pageCount, wakeupEvents: options.wakeupEvents)
            } catch {
                throw error.error(
                    .systemCallFailed,
                    "could not open the perf ring of CPU \(cpu) for '\(table.name)' (\(pageCount) pages); if the error is ENOMEM or EPERM, lower pageCount or raise perf_event_mlock_kb"
                )
            }
            rings.append(ring)
            try module.withTable(table.name) { (map) throws(EBPFError) in
                var key = cpu
                var fd = ring.fd
                do throws(SystemCallFailure) {
                    try LibBCC.MapCalls.update(fd: map, key: &key, value: &fd, flags: 0)
                } catch {
                    throw error.error(
                        .systemCallFailed, "could not register CPU \(cpu)'s perf ring in table '\(table.name)'")
                }
            }
        }
        self.rings = rings
        self.pollDescriptors = rings.map(\.fd)
        self.needsTimedDrain = options.wakeupEvents > 1
        self.callbacks = callbacks
    }

    /// Reads each CPU's ring once, up to where it was when that ring's read began: a ring
    /// that keeps filling cannot hold the polling thread.
    func drain() {
        for ring in rings {
            ring.read(into: callbacks)
        }
    }

    func release() {
        rings = []
    }
}
