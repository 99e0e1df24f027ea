/// The kind of a BPF map (`enum bpf_map_type` in `linux/bpf.h`), as libbcc reports it for a
/// table declared with `BPF_HASH`, `BPF_PERF_OUTPUT`, `BPF_RINGBUF_OUTPUT` and the like.
public struct TableType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let hash = TableType(rawValue: 1)
    public static let array = TableType(rawValue: 2)
    public static let programArray = TableType(rawValue: 3)
    public static let perfEventArray = TableType(rawValue: 4)
    public static let perCPUHash = TableType(rawValue: 5)
    public static let perCPUArray = TableType(rawValue: 6)
    public static let stackTrace = TableType(rawValue: 7)
    public static let cgroupArray = TableType(rawValue: 8)
    public static let lruHash = TableType(rawValue: 9)
    public static let lruPerCPUHash = TableType(rawValue: 10)
    public static let lpmTrie = TableType(rawValue: 11)
    /// Network interfaces for `bpf_redirect_map` from XDP (`BPF_DEVMAP`).
    public static let deviceMap = TableType(rawValue: 14)
    /// CPUs for `bpf_redirect_map` from XDP (`BPF_CPUMAP`).
    public static let cpuMap = TableType(rawValue: 16)
    /// AF_XDP sockets for `bpf_redirect_map` from XDP (`BPF_XSKMAP`).
    public static let xskMap = TableType(rawValue: 17)
    public static let queue = TableType(rawValue: 22)
    public static let stack = TableType(rawValue: 23)
    public static let ringBuffer = TableType(rawValue: 27)

    public var description: String {
        switch self {
        case .hash: return "hash"
        case .array: return "array"
        case .programArray: return "program array"
        case .perfEventArray: return "perf event array (BPF_PERF_OUTPUT)"
        case .perCPUHash: return "per-CPU hash"
        case .perCPUArray: return "per-CPU array"
        case .stackTrace: return "stack trace"
        case .cgroupArray: return "cgroup array"
        case .lruHash: return "LRU hash"
        case .lruPerCPUHash: return "LRU per-CPU hash"
        case .lpmTrie: return "LPM trie"
        case .deviceMap: return "device map"
        case .cpuMap: return "CPU map"
        case .xskMap: return "XSK map"
        case .queue: return "queue"
        case .stack: return "stack"
        case .ringBuffer: return "ring buffer (BPF_RINGBUF_OUTPUT)"
        default: return "map type \(rawValue)"
        }
    }
}
