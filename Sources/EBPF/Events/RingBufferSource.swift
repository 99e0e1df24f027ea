import EBPFKernel
import EBPFProgram

/// A `BPF_RINGBUF_OUTPUT` table (one ring shared by all CPUs), read by the polling thread.
///
/// The map is pollable: the kernel signals it when records are committed.
final class RingBufferSource: EventSource, @unchecked Sendable {
    // @unchecked Sendable: `ring` changes only in release(). The poller calls
    // drain() on its thread only, watch() and unwatch() before release(), and release()
    // exactly once when no drain runs (EventPoller's contract).

    let needsTimedDrain: Bool
    private var ring: BPFRingBuffer?
    private let callbacks: BufferCallbacks
    /// The program's own count of records the ring had no room for, read after each drain;
    /// nil when the program keeps none (the kernel counts no ring buffer losses).
    private let lostCount: (@Sendable () -> UInt64?)?
    private var reportedLost: UInt64 = 0
    /// When the count was last read: at most every 10 ms (a map lookup each), and at release.
    private var lostReadAt: UInt64 = 0

    /// `timedDrain` when the programs submit without waking the reader (`BPF_RB_NO_WAKEUP`).
    /// Run once the reader is released (giving back what the ring took of a budget).
    private let onRelease: (@Sendable () -> Void)?

    init(
        table: TableInfo, module: BPFModule, callbacks: BufferCallbacks, timedDrain: Bool = false,
        onRelease: (@Sendable () -> Void)? = nil, lostCount: (@Sendable () -> UInt64?)? = nil
    ) throws(EBPFError) {
        needsTimedDrain = timedDrain
        self.onRelease = onRelease
        self.lostCount = lostCount
        ring = try module.withTable(table.name) { (map) throws(EBPFError) -> BPFRingBuffer in
            do throws(SystemCallFailure) {
                return try BPFRingBuffer(map: map, dataSize: table.maxEntries)
            } catch {
                throw error.error(.systemCallFailed, "could not map the ring buffer '\(table.name)'")
            }
        }
        self.callbacks = callbacks
    }

    func watch(in pollSet: PollSet, id: UInt64) throws(SystemCallFailure) {
        if let ring { try pollSet.add(ring, id: id, edgeTriggered: needsTimedDrain) }
    }

    func unwatch(from pollSet: PollSet) {
        if let ring { pollSet.remove(ring) }
    }

    /// Reads the records committed when the read began: a ring that keeps filling cannot
    /// hold the polling thread.
    func drain() {
        if let ring {
            // Woken at a watermark (edge-triggered), the reader is not woken again for what
            // comes while it drains: with a quarter of the ring or more waiting after a pass,
            // it reads again, up to four passes, rather than wait for its next timed drain.
            var passes = 0
            while ring.read(into: callbacks) >= ring.dataSize / 4, needsTimedDrain, passes < 3 { passes += 1 }
        }
        let now = KernelClock.now()
        if now &- lostReadAt >= 10_000_000 {
            lostReadAt = now
            reportLost()
        }
        callbacks.afterDrain()
    }

    /// Reports what the program counted lost since the last report.
    private func reportLost() {
        if let total = lostCount?(), total > reportedLost {
            callbacks.onLost(total - reportedLost)
            reportedLost = total
        }
    }

    func release() {
        reportLost()
        ring = nil
        onRelease?()
    }
}
