/// One load: a syscall, how many calls, and the record size its probe produces.
struct Scenario: Sendable {
    /// dup2(BASE+i, BASE+i): a 64-byte record whose oldfd is the sequence number + BASE.
    static func small(count: Int) -> Scenario {
        Scenario(syscall: "dup2", count: count, stringSize: 256, sequenceField: "oldfd", sequenceBase: 1_000_000)
    }

    /// access(PATH, i): a 520-byte record (459-character path) whose mode is the sequence number.
    static func large(count: Int) -> Scenario {
        Scenario(syscall: "access", count: count, stringSize: 460, sequenceField: "mode", sequenceBase: 0)
    }

    let syscall: String
    let count: Int
    let stringSize: Int
    let sequenceField: String
    let sequenceBase: Int

    var tracepoint: String { "syscalls:sys_enter_\(syscall)" }
}

/// Who consumes the events.
enum Consumer: Sendable, Hashable {
    /// pages 0: the page count the library chooses for the record size.
    case c(pages: Int, wakeup: Int)
    case python(pages: Int, wakeup: Int)
    /// The closure probe as users get it: emitted, its events through a ring buffer, each
    /// copied into a `ProbeEvent`.
    case swiftClosure
    /// The same through perf buffers.
    case swiftClosurePerf
    /// The same as ``swiftClosure``, each event lent in place (`attachBorrowing`).
    case swiftBorrowed
    case swiftByName
    case swiftTyped
    /// The library's in-kernel count of the same events: nothing reaches user space.
    case swiftCount

    var label: String {
        switch self {
        case .c(0, let wakeup): return "C perf_reader (library's pages, wakeup \(wakeup))"
        case .c(let pages, let wakeup): return "C perf_reader (\(pages) pages, wakeup \(wakeup))"
        case .python(8, 1): return "bcc Python defaults (8 pages, wakeup 1)"
        case .python(0, let wakeup): return "bcc Python (library's pages, wakeup \(wakeup))"
        case .python(let pages, let wakeup): return "bcc Python (\(pages) pages, wakeup \(wakeup))"
        case .swiftClosure: return "Swift closure probe (defaults: ring buffer)"
        case .swiftClosurePerf: return "Swift closure probe, perf buffers"
        case .swiftBorrowed: return "Swift closure probe, borrowed events"
        case .swiftByName: return "Swift native, by name (defaults)"
        case .swiftTyped: return "Swift native, typed (defaults)"
        case .swiftCount: return "Swift in-kernel count (no events sent)"
        }
    }
}

/// What one consumer measured on one scenario.
struct Measurement: Sendable {
    var consumer: Consumer
    var delivered: Double
    var lost: Double
    var gaps: Double
    var eventsPerSecond: Double
    var nanosecondsPerSyscall: Double
    var cpuNanosecondsPerEvent: Double
    var peakRSS: Int
    var startupMilliseconds: Double
    /// Heap allocations while events flowed, per event delivered; nil for the C and Python
    /// consumers (not counted).
    var allocationsPerEvent: Double?
}

extension Measurement {
    /// One consumer's runs of one scenario as one row: each rate and cost is the median of
    /// the runs, taken separately (they move with how the kernel happened to batch wake-ups,
    /// not together); losses are the worst run's, so a loss in any run shows.
    static func combining(_ runs: [Measurement]) -> Measurement {
        precondition(!runs.isEmpty, "a row needs at least one run")
        func median<Value: Comparable>(_ value: (Measurement) -> Value) -> Value {
            let sorted = runs.map(value).sorted()
            return sorted[sorted.count / 2]
        }
        var row = runs[0]
        row.delivered = runs.map(\.delivered).min()!
        row.lost = runs.map(\.lost).max()!
        row.gaps = runs.map(\.gaps).max()!
        row.eventsPerSecond = median(\.eventsPerSecond)
        row.nanosecondsPerSyscall = median(\.nanosecondsPerSyscall)
        row.cpuNanosecondsPerEvent = median(\.cpuNanosecondsPerEvent)
        row.peakRSS = runs.map(\.peakRSS).max()!
        row.startupMilliseconds = median(\.startupMilliseconds)
        row.allocationsPerEvent = runs.compactMap(\.allocationsPerEvent).max()
        return row
    }
}
