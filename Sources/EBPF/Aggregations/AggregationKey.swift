import EBPFKernel

/// What an aggregation groups its events by: one count (and statistics) per distinct key.
///
/// ```swift
/// let opens = try b.aggregate(.syscall("openat"), by: .processName)
/// let kills = try b.aggregate(.syscall("kill"), by: .field("sig"))
/// ```
public struct AggregationKey: Sendable, Hashable, CustomStringConvertible {
    enum Kind: Sendable, Hashable {
        case processName, processID, threadID, userID, cpu, cgroup
        case field(String)
        /// The kernel's or the thread's user stack, innermost frame first.
        case stack(user: Bool)
        /// Both stacks and the thread's name: a profile's folded stack.
        case foldedStack
    }

    let kind: Kind

    /// The thread's name (`comm`), as bcc's and bpftrace's `comm`.
    public static let processName = AggregationKey(kind: .processName)
    /// The process (thread group) id.
    public static let processID = AggregationKey(kind: .processID)
    /// The thread id (the kernel's pid).
    public static let threadID = AggregationKey(kind: .threadID)
    public static let userID = AggregationKey(kind: .userID)
    /// The CPU the event happened on.
    public static let cpu = AggregationKey(kind: .cpu)
    /// The thread's cgroup v2 id, as bpftrace's `cgroup`: an unsigned key that
    /// ``CgroupResolver`` names (`key?.uint64Value`).
    public static let cgroup = AggregationKey(kind: .cgroup)

    /// A field of the event, named as in its tracepoint's format file (`sig`, `fd`,
    /// `filename`): an integer, or a string (`char *` arguments, `char` arrays, `__data_loc`
    /// strings) read up to ``AggregationOptions/stringSize`` bytes.
    public static func field(_ name: String) -> AggregationKey {
        AggregationKey(kind: .field(name))
    }

    /// The thread's user-space stack, as bpftrace's `@[ustack] = count()` and bcc's
    /// `stackcount -U`: an entry's key is the stack's frames as strings, innermost first
    /// (`key?.stringsValue`), Swift functions by their names. Up to 127 frames, in a stack
    /// table of 16,384 distinct stacks (``Aggregation/stackFailures()`` counts those it
    /// could not keep).
    public static let userStack = AggregationKey(kind: .stack(user: true))
    /// The kernel's stack, as bpftrace's `@[kstack] = count()` and bcc's `stackcount`.
    public static let kernelStack = AggregationKey(kind: .stack(user: false))

    public var description: String {
        switch kind {
        case .stack(let user): return user ? "ustack" : "kstack"
        case .foldedStack: return "stack"
        case .processName: return "comm"
        case .processID: return "pid"
        case .threadID: return "tid"
        case .userID: return "uid"
        case .cpu: return "cpu"
        case .cgroup: return "cgroup"
        case .field(let name): return name
        }
    }
}

/// Sizes of an aggregation's table.
public struct AggregationOptions: Sendable, Hashable {
    /// The most distinct keys the kernel table holds (for a histogram, keys times the slots
    /// they use); events with a new key beyond it are not counted, and counted in
    /// ``Aggregation/droppedCount()``. bcc's default, 10,240. For a latency, also the most
    /// threads inside the syscall at once.
    public var maxKeys: Int
    /// Bytes of a string key kept, its NUL included (bpftrace's default, 64).
    public var stringSize: Int
    /// Sockets and USDT strings read behind the arguments, for keys and fields.
    public var arguments: ArgumentReading

    public init(maxKeys: Int = 10_240, stringSize: Int = 64, arguments: ArgumentReading = ArgumentReading()) {
        self.maxKeys = maxKeys
        self.stringSize = stringSize
        self.arguments = arguments
    }

    public static let `default` = AggregationOptions()

    func validate() throws(EBPFError) {
        guard (1...(1 << 24)).contains(maxKeys) else {
            throw EBPFError(.invalidArgument, "maxKeys \(maxKeys) must be between 1 and 16,777,216")
        }
        // The key is built on the BPF stack, which has 512 bytes in all.
        guard (1...256).contains(stringSize) else {
            throw EBPFError(
                .invalidArgument,
                "stringSize \(stringSize) must be between 1 and 256 bytes for a key (the BPF stack is 512 bytes)")
        }
    }
}
