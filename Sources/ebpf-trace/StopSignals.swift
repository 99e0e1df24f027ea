#if canImport(Glibc)
import Glibc
#endif

/// SIGINT, SIGTERM and SIGHUP, blocked in every thread from the start of the command and
/// taken synchronously with sigtimedwait(2).
///
/// Blocked, a stop signal that arrives while the probes are still attaching (or just after
/// "tracing" is printed) stays pending until ``wait(seconds:)`` takes it: it is never lost to
/// a handler that is not installed yet, and never kills the tracer before it can detach and
/// print its summary. Threads inherit the mask, so block before any thread starts.
struct StopSignals {
    static let numbers = [SIGINT, SIGTERM, SIGHUP]
    private var set = sigset_t()

    /// Blocks the stop signals in the calling thread and in every thread it creates later.
    static func block() -> StopSignals {
        var signals = StopSignals()
        sigemptyset(&signals.set)
        for number in numbers { sigaddset(&signals.set, number) }
        pthread_sigmask(SIG_BLOCK, &signals.set, nil)
        return signals
    }

    /// Waits for a stop signal, or until `seconds` pass; returns the signal, or nil on time-out.
    func wait(seconds: Double?) -> Int32? {
        var set = self.set
        let deadline = seconds.map { ContinuousClock.now + .nanoseconds(Int64($0 * 1e9)) }
        while true {
            var timeout = timespec()
            if let deadline {
                let left = max(.zero, deadline - .now).components
                timeout = timespec(tv_sec: Int(left.seconds), tv_nsec: Int(left.attoseconds / 1_000_000_000))
            }
            let number = deadline == nil ? sigwaitinfo(&set, nil) : sigtimedwait(&set, nil, &timeout)
            if number > 0 { return number }
            if errno == EAGAIN { return nil }  // the time is up
        }
    }
}
