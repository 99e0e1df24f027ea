import EBPFKernel
import EBPFProgram

/// A `BPF_PERF_OUTPUT` table's per-CPU perf rings, read by the polling thread.
final class PerfBufferSource: EventSource, @unchecked Sendable {
    // @unchecked Sendable: `rings` changes only in release(). The poller calls
    // drain() on its thread only, watch() and unwatch() before release(), and release()
    // exactly once when no drain runs (EventPoller's contract).

    let needsTimedDrain: Bool
    private var rings: [PerfRing]
    private let callbacks: BufferCallbacks
    /// What automatic sizing took from the wrapper's budget; nil for an explicit page count.
    private var reservation: (budget: PerfRingBudget, pagesPerCPU: Int, cpus: Int)?

    /// Opens one perf ring per online CPU and stores each ring's fd in the table at that
    /// CPU's index, which is where `perf_submit` on that CPU writes.
    /// `recordSize` (0 when unknown) sizes the ring when `options.pageCount` is nil.
    /// Automatically sized rings are reserved from `budget` and given back by ``release()``.
    init(
        table: TableInfo, module: BPFModule, options: PerfBufferOptions, recordSize: Int,
        budget: PerfRingBudget, callbacks: BufferCallbacks
    ) throws(EBPFError) {
        try options.validate()
        let cpus = try SystemFiles.onlineCPUs()
        let pageCount: Int
        if let chosen = options.pageCount {
            pageCount = chosen
            reservation = nil
        } else {
            pageCount = budget.reserve(
                wantedPages: PerfBufferOptions.automaticPageCount(recordSize: recordSize), cpus: cpus.count)
            reservation = (budget, pageCount, cpus.count)
        }
        do throws(EBPFError) {
            rings = try Self.openRings(table: table, module: module, cpus: cpus, pageCount: pageCount, options: options)
        } catch {
            if options.pageCount == nil { budget.release(pagesPerCPU: pageCount, cpus: cpus.count) }
            throw error
        }
        self.needsTimedDrain = options.wakeupEvents > 1
        self.callbacks = callbacks
    }

    /// One ring per CPU in `cpus`, each registered in the table at its CPU's index. All rings
    /// are opened before the first is registered: opening (the kernel allocating and zeroing
    /// the pages) takes no lock of the module's, so another thread can load its programs
    /// meanwhile.
    private static func openRings(
        table: TableInfo, module: BPFModule, cpus: [Int32], pageCount: Int, options: PerfBufferOptions
    ) throws(EBPFError) -> [PerfRing] {
        var rings: [PerfRing] = []
        for cpu in cpus {
            do {
                rings.append(try PerfRing(cpu: cpu, pageCount: pageCount, wakeupEvents: options.wakeupEvents))
            } catch {
                throw error.error(
                    .systemCallFailed,
                    "could not open the perf ring of CPU \(cpu) for '\(table.name)' (\(pageCount) pages); if the error is ENOMEM or EPERM, lower pageCount or raise perf_event_mlock_kb"
                )
            }
        }
        try module.withTable(table.name) { (map) throws(EBPFError) in
            for (cpu, ring) in zip(cpus, rings) {
                do throws(SystemCallFailure) {
                    try ring.register(in: map, cpu: cpu)
                } catch {
                    throw error.error(
                        .systemCallFailed, "could not register CPU \(cpu)'s perf ring in table '\(table.name)'")
                }
            }
        }
        return rings
    }

    func watch(in pollSet: PollSet, id: UInt64) throws(SystemCallFailure) {
        for ring in rings { try pollSet.add(ring, id: id) }
    }

    func unwatch(from pollSet: PollSet) {
        rings.forEach(pollSet.remove)
    }

    /// Reads each CPU's ring once, up to where it was when that ring's read began: a ring
    /// that keeps filling cannot hold the polling thread.
    func drain() {
        for ring in rings {
            ring.read(into: callbacks)
        }
        callbacks.afterDrain()
    }

    func release() {
        rings = []
        if let reservation {
            reservation.budget.release(pagesPerCPU: reservation.pagesPerCPU, cpus: reservation.cpus)
        }
        reservation = nil
    }
}
