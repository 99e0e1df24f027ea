/// A hardware or software perf event to run a BPF program on (`perf_event_attr.type` and
/// `.config`), as for bcc's `attach_perf_event(ev_type=…, ev_config=…)`.
public struct PerfEvent: Hashable, Sendable, CustomStringConvertible {
    public var type: UInt32
    public var config: UInt32

    public init(type: UInt32, config: UInt32) {
        self.type = type
        self.config = config
    }

    /// `PERF_TYPE_HARDWARE` events. Often unavailable in virtual machines.
    public static func hardware(_ counter: Hardware) -> PerfEvent {
        PerfEvent(type: 0, config: counter.rawValue)
    }

    /// `PERF_TYPE_SOFTWARE` events, counted by the kernel itself; available everywhere.
    public static func software(_ counter: Software) -> PerfEvent {
        PerfEvent(type: 1, config: counter.rawValue)
    }

    public struct Hardware: RawRepresentable, Hashable, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public static let cpuCycles = Hardware(rawValue: 0)
        public static let instructions = Hardware(rawValue: 1)
        public static let cacheReferences = Hardware(rawValue: 2)
        public static let cacheMisses = Hardware(rawValue: 3)
        public static let branchInstructions = Hardware(rawValue: 4)
        public static let branchMisses = Hardware(rawValue: 5)
        public static let busCycles = Hardware(rawValue: 6)
    }

    public struct Software: RawRepresentable, Hashable, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public static let cpuClock = Software(rawValue: 0)
        public static let taskClock = Software(rawValue: 1)
        public static let pageFaults = Software(rawValue: 2)
        public static let contextSwitches = Software(rawValue: 3)
        public static let cpuMigrations = Software(rawValue: 4)
        public static let minorPageFaults = Software(rawValue: 5)
        public static let majorPageFaults = Software(rawValue: 6)
    }

    /// The name `perf list` and bpftrace give the event (`software:cpu-clock`), or its type
    /// and config as numbers (`perf:4:26`) for one without a name.
    public var description: String {
        if let name = Self.names.first(where: { $0.event == self })?.name { return name }
        return "perf:\(type):\(config)"
    }

    /// The event `perf list` and bpftrace call `name` (`software:cpu-clock`,
    /// `hardware:cycles`), or `perf:TYPE:CONFIG` in numbers.
    public init?(named name: String) {
        if let known = Self.names.first(where: { $0.name == name }) ?? Self.aliases.first(where: { $0.name == name }) {
            self = known.event
            return
        }
        let parts = name.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "perf", let type = UInt32(parts[1]), let config = UInt32(parts[2]) else {
            return nil
        }
        self.init(type: type, config: config)
    }

    /// Every named event, as `perf list` spells it.
    static let names: [(name: String, event: PerfEvent)] = [
        ("hardware:cpu-cycles", .hardware(.cpuCycles)), ("hardware:instructions", .hardware(.instructions)),
        ("hardware:cache-references", .hardware(.cacheReferences)),
        ("hardware:cache-misses", .hardware(.cacheMisses)),
        ("hardware:branch-instructions", .hardware(.branchInstructions)),
        ("hardware:branch-misses", .hardware(.branchMisses)), ("hardware:bus-cycles", .hardware(.busCycles)),
        ("software:cpu-clock", .software(.cpuClock)), ("software:task-clock", .software(.taskClock)),
        ("software:page-faults", .software(.pageFaults)), ("software:context-switches", .software(.contextSwitches)),
        ("software:cpu-migrations", .software(.cpuMigrations)), ("software:minor-faults", .software(.minorPageFaults)),
        ("software:major-faults", .software(.majorPageFaults)),
    ]

    /// The short names bpftrace also accepts.
    private static let aliases: [(name: String, event: PerfEvent)] = [
        ("hardware:cycles", .hardware(.cpuCycles)), ("hardware:branches", .hardware(.branchInstructions)),
        ("software:faults", .software(.pageFaults)), ("software:cs", .software(.contextSwitches)),
        ("software:migrations", .software(.cpuMigrations)),
    ]
}

/// How often a perf event runs its program.
public enum PerfEventSampling: Hashable, Sendable {
    /// Every `n` occurrences of the event (for `cpuClock`, every `n` nanoseconds).
    case period(UInt64)
    /// About `n` times per second per CPU (e.g. 49 or 99 Hz for profilers).
    case frequency(UInt64)
}
