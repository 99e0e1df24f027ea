/// The time the command traces: from when its probes were attached until a stop signal or
/// the end of `--duration`, with `--interval`'s ticks on a fixed schedule from that start.
///
/// Counted from the attach, not from the process start: a cold compile can take most of
/// a short duration, and a `--duration 2` trace must still see two seconds of events,
/// and each interval's `[elapsed s]` label agree with the schedule asked for.
final class TracingWindow {
    private let stopSignals: StopSignals
    private let duration: Double?
    private var start: ContinuousClock.Instant?
    /// The interval ticks passed so far.
    private var ticks = 0

    init(stopSignals: StopSignals, duration: Double?) {
        self.stopSignals = stopSignals
        self.duration = duration
    }

    /// Tracing has begun: the duration and the intervals count from now.
    func begin() {
        start = ContinuousClock.now
    }

    /// Seconds since ``begin()``.
    var elapsedSeconds: Double {
        guard let start else { return 0 }
        return Double((ContinuousClock.now - start) / .microseconds(1)) / 1e6
    }

    /// Waits at most `seconds` for a stop signal; true when tracing is to stop (a signal
    /// came, or the duration is over).
    func stopped(waiting seconds: Double) -> Bool {
        let left = duration.map { $0 - elapsedSeconds } ?? .infinity
        let wait = max(0, min(seconds, left))
        if stopSignals.wait(seconds: wait.isFinite ? wait : nil) != nil { return true }
        return duration.map { elapsedSeconds >= $0 } ?? false
    }

    /// Waits for the next tick of `interval` seconds from the start (one tick is skipped,
    /// never printed empty, when a stall let it pass), or for the stop without intervals;
    /// true when tracing is to stop.
    func stopped(atNextTickOf interval: Double?) -> Bool {
        guard let interval else { return stopped(waiting: .infinity) }
        ticks = max(ticks + 1, Int(elapsedSeconds / interval) + 1)
        while true {
            let left = Double(ticks) * interval - elapsedSeconds
            if stopped(waiting: max(0, left)) { return true }
            if elapsedSeconds >= Double(ticks) * interval { return false }
        }
    }
}
