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

    public var description: String {
        switch type {
        case 0: return "hardware:\(config)"
        case 1: return "software:\(config)"
        default: return "perf:\(type):\(config)"
        }
    }
}

/// How often a perf event runs its program.
public enum PerfEventSampling: Hashable, Sendable {
    /// Every `n` occurrences of the event (for `cpuClock`, every `n` nanoseconds).
    case period(UInt64)
    /// About `n` times per second per CPU (e.g. 49 or 99 Hz for profilers).
    case frequency(UInt64)
}

extension EBPFWrapper {
    /// Runs the program's function `fnName` on a perf event, as bcc's
    /// `attach_perf_event(ev_type=…, ev_config=…, fn_name=…, sample_period=…, sample_freq=…)`.
    ///
    /// - Parameters:
    ///   - event: The counter, e.g. `.software(.cpuClock)`.
    ///   - sampling: A period or a frequency; both must be positive.
    ///   - fnName: A function of the program, loaded as a perf event program.
    ///   - pid: Count only this process; nil counts every process.
    ///   - cpu: Count only this CPU; nil opens one event per online CPU (with `pid` nil) or
    ///     one that follows the process (with a `pid`).
    /// - Returns: One handle for all the per-CPU events.
    /// - Throws: ``EBPFError/Code/invalidArgument``, ``EBPFError/Code/attachFailed`` (a
    ///   hardware counter the machine lacks gives `ENOENT`), and the errors of
    ///   ``loadFunction(_:type:)``.
    ///
    /// The corresponding libbcc function is `bpf_attach_perf_event`.
    @discardableResult
    public func attachPerfEvent(
        _ event: PerfEvent, sampling: PerfEventSampling, fnName: String, pid: Int32? = nil,
        cpu: Int32? = nil
    ) throws(EBPFError) -> Attachment {
        try checkOpen()
        let (period, frequency): (UInt64, UInt64)
        switch sampling {
        case .period(let value): (period, frequency) = (value, 0)
        case .frequency(let value): (period, frequency) = (0, value)
        }
        guard period > 0 || frequency > 0 else {
            throw EBPFError(.invalidArgument, "the sampling period or frequency must be greater than zero")
        }
        if let pid, pid <= 0 {
            throw EBPFError(.invalidArgument, "pid \(pid) is not a process id; pass nil to count every process")
        }
        let cpus: [Int32] = if let cpu { [cpu] } else if pid != nil { [-1] } else { try SystemFiles.onlineCPUs() }
        let attachment = try nativeModule().withFunction(fnName, type: .perfEvent) {
            (program) throws(EBPFError) -> Attachment in
            do throws(SystemCallFailure) {
                let hook = try LibBCC.Hook.perfEvents(
                    program: program, type: event.type, config: event.config, samplePeriod: period,
                    sampleFrequency: frequency, pid: pid ?? -1, cpus: cpus)
                return Attachment(kind: .perfEvent, target: event.description, functionName: fnName, hook: hook)
            } catch {
                throw error.error(
                    .attachFailed,
                    "could not open perf event \(event) on CPU \(cpus.count == 1 ? "\(cpus[0])" : "list \(cpus)") for '\(fnName)' (hardware counters are often missing in virtual machines; software events always exist)"
                )
            }
        }
        return try track(attachment)
    }
}
