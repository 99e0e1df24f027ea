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

    public var description: String {
        switch self {
        case .kprobe: return "kprobe"
        case .tracepoint: return "tracepoint"
        case .perfEvent: return "perf_event"
        case .rawTracepoint: return "raw_tracepoint"
        case .tracing: return "tracing"
        default: return "program type \(rawValue)"
        }
    }
}
