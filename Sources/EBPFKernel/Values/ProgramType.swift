/// The type a BPF function is loaded as (`enum bpf_prog_type`), which decides the events it
/// can attach to and the context it receives.
public struct ProgramType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// kprobes, kretprobes, uprobes and uretprobes (`struct pt_regs *ctx`).
    public static let kprobe = ProgramType(rawValue: LibBCC.ProgramTypes.kprobe)
    /// Tracepoints (`TRACEPOINT_PROBE` or a struct of the format file's fields).
    public static let tracepoint = ProgramType(rawValue: LibBCC.ProgramTypes.tracepoint)
    /// Perf events (`struct bpf_perf_event_data *ctx`).
    public static let perfEvent = ProgramType(rawValue: LibBCC.ProgramTypes.perfEvent)
    /// Raw tracepoints (`RAW_TRACEPOINT_PROBE`, `struct bpf_raw_tracepoint_args *ctx`).
    public static let rawTracepoint = ProgramType(rawValue: LibBCC.ProgramTypes.rawTracepoint)
    /// fentry and fexit (`KFUNC_PROBE`, `KRETFUNC_PROBE`: the function's arguments as an
    /// array of u64, and its return value after them at exit).
    public static let tracing = ProgramType(rawValue: LibBCC.ProgramTypes.tracing)
    /// Socket filters (`struct __sk_buff *skb`): the packets a socket receives; the return
    /// value is how many bytes of each to keep (0 drops it).
    public static let socketFilter = ProgramType(rawValue: LibBCC.ProgramTypes.socketFilter)
    /// tc classifiers (`struct __sk_buff *skb`), run in direct-action mode: the return value
    /// is the verdict (`TC_ACT_OK` 0, `TC_ACT_SHOT` 2).
    public static let schedCLS = ProgramType(rawValue: LibBCC.ProgramTypes.schedCLS)
    /// XDP (`struct xdp_md *ctx`): packets as the driver receives them, before the stack;
    /// the return value is the verdict (`XDP_DROP` 1, `XDP_PASS` 2).
    public static let xdp = ProgramType(rawValue: LibBCC.ProgramTypes.xdp)
    /// A cgroup's packets in or out (`struct __sk_buff *skb`): 1 lets one through, 0 drops it.
    public static let cgroupSKB = ProgramType(rawValue: LibBCC.ProgramTypes.cgroupSKB)
    /// A cgroup's socket creation (`struct bpf_sock *sk`): 1 allows it, 0 refuses it (EPERM).
    public static let cgroupSock = ProgramType(rawValue: LibBCC.ProgramTypes.cgroupSock)
    /// A cgroup's connects, binds and sends to an address (`struct bpf_sock_addr *ctx`),
    /// loaded for one of them: 1 allows it, 0 refuses it (EPERM).
    public static let cgroupSockAddr = ProgramType(rawValue: LibBCC.ProgramTypes.cgroupSockAddr)
    /// LSM hooks (`LSM_PROBE`, kernel 5.7 with the BPF LSM active): a nonzero return, a
    /// negative errno, denies the operation.
    public static let lsm = ProgramType(rawValue: LibBCC.ProgramTypes.lsm)

    public var description: String {
        switch self {
        case .kprobe: return "kprobe"
        case .tracepoint: return "tracepoint"
        case .perfEvent: return "perf_event"
        case .rawTracepoint: return "raw_tracepoint"
        case .tracing: return "tracing"
        case .socketFilter: return "socket_filter"
        case .schedCLS: return "sched_cls"
        case .xdp: return "xdp"
        case .cgroupSKB: return "cgroup_skb"
        case .cgroupSock: return "cgroup_sock"
        case .cgroupSockAddr: return "cgroup_sock_addr"
        case .lsm: return "lsm"
        default: return "program type \(rawValue)"
        }
    }
}
