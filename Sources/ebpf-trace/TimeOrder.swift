import EBPF

/// Lines held until no earlier event can still arrive, then released in the order their
/// events happened (by the kernel's timestamp, `bpf_ktime_get_ns`, which is
/// `CLOCK_MONOTONIC`).
///
/// Each CPU's ring is in time order, but the polling thread hands over one ring after the
/// other, so events of different CPUs (and probes) come interleaved out of order. Lines are
/// released after each pass of the library over every ring (every 10 ms) up to
/// `EBPFWrapper.delivery.deliveredThrough`, before which every event has been delivered; and, should
/// passes stall, once they are `delay` old. An event that still comes after later ones were
/// written (its program was preempted between stamping and writing it) is written at once
/// and counted as ``lateCount``.
final class TimeOrderedLines: Sendable {
    /// The longest a line waits for earlier events by default: five drain intervals.
    static let defaultDelayMilliseconds = 50

    /// The most nanoseconds a line waits; 0 writes each line as its event arrives.
    private let delay: UInt64

    init(delayMilliseconds: Int) {
        delay = UInt64(max(0, delayMilliseconds)) * 1_000_000
    }

    private struct Pending {
        var lines: [(timestamp: UInt64, sequence: UInt64, line: String)] = []
        var sequence: UInt64 = 0
        /// Everything up to here has been released.
        var released: UInt64 = 0
        var late = 0
    }

    private let state = Locked(Pending())

    /// Holds `line` of an event at `timestamp`; returns it when it is already late.
    func add(_ line: String, timestamp: UInt64) -> String? {
        guard delay > 0 else { return line }
        return state.withLock { state in
            guard timestamp >= state.released else {
                state.late += 1
                return line
            }
            state.lines.append((timestamp, state.sequence, line))
            state.sequence &+= 1
            return nil
        }
    }

    /// The lines of events at least the delay old, in time order.
    func releaseDue() -> [String] {
        let now = KernelClock.now()
        return release(upTo: now > delay ? now - delay : 0)
    }

    /// Every line held, in time order: when no event can come any more.
    func releaseAll() -> [String] {
        release(upTo: .max)
    }

    /// Events that came after later ones had been written.
    var lateCount: Int { state.withLock { $0.late } }

    /// The lines of events before `watermark`, in time order: those no earlier event can
    /// follow any more.
    func release(upTo watermark: UInt64) -> [String] {
        guard delay > 0 else { return [] }
        return state.withLock { state in
            state.released = max(state.released, watermark)
            let due = state.lines.filter { $0.timestamp <= watermark }
            guard !due.isEmpty else { return [] }
            state.lines.removeAll { $0.timestamp <= watermark }
            return due.sorted { ($0.timestamp, $0.sequence) < ($1.timestamp, $1.sequence) }.map(\.line)
        }
    }
}
