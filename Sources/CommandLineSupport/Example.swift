// What every example program shares: its duration argument, how it reports a failure, a
// status line on stderr, and column padding.

#if canImport(Glibc)
import Glibc
#endif

public enum Example {
    /// The first command-line argument as a number of seconds, else `defaultSeconds`.
    public static func seconds(default defaultSeconds: Int = 5) -> Int {
        CommandLine.arguments.dropFirst().first.flatMap(Int.init) ?? defaultSeconds
    }

    /// The arguments `NAME [seconds]` of an example that takes one name (a network
    /// interface): the name, and the seconds (default 5). Without a name, prints the usage
    /// and exits with status 2.
    public static func nameAndSeconds(usage: String) -> (name: String, seconds: Int) {
        let arguments = CommandLine.arguments.dropFirst()
        guard let name = arguments.first else {
            print("usage: \(usage)")
            exit(2)
        }
        return (name, arguments.dropFirst().first.flatMap(Int.init) ?? 5)
    }

    /// Runs the example's body; a thrown error is printed (an `EBPFError` says what to do)
    /// and the program exits with status 1.
    public static func run(_ body: () throws -> Void) {
        do {
            try body()
        } catch {
            print(error)
            exit(1)
        }
    }

    /// Makes SIGINT and SIGTERM end ``waitForInterrupt(seconds:)`` instead of the process:
    /// blocks them in every thread. Call it first, before anything starts a thread.
    public static func catchInterrupts() {
        var signals = interrupts
        pthread_sigmask(SIG_BLOCK, &signals, nil)
    }

    /// Waits `seconds`, or until SIGINT or SIGTERM (Ctrl-C) comes, whichever is first (after
    /// ``catchInterrupts()``). Returns whether the signal came.
    @discardableResult
    public static func waitForInterrupt(seconds: Int) -> Bool {
        var signals = interrupts
        var timeout = timespec(tv_sec: seconds, tv_nsec: 0)
        while true {
            if sigtimedwait(&signals, nil, &timeout) > 0 { return true }
            if errno != EINTR { return false }
        }
    }

    /// Whether SIGINT or SIGTERM came (after ``catchInterrupts()``), without waiting.
    public static func interrupted() -> Bool {
        var signals = interrupts
        var now = timespec(tv_sec: 0, tv_nsec: 0)
        return sigtimedwait(&signals, nil, &now) > 0
    }

    private static var interrupts: sigset_t {
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        return signals
    }

    /// Writes one line to stderr, unbuffered: progress that must not mix with the output.
    public static func status(_ line: String) {
        var text = line + "\n"
        text.withUTF8 { _ = write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }
}

extension String {
    /// The string padded with spaces to at least `width` characters, for columns.
    public func padded(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
