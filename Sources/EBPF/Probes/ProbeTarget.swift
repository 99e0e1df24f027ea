/// What a closure probe attaches to.
public struct ProbeTarget: Sendable, Hashable, CustomStringConvertible {
    enum Kind: Sendable, Hashable {
        case tracepoint(String)
        case syscall(String)
        case syscallExit(String)
        case kprobe(String)
    }

    let kind: Kind

    /// A kernel tracepoint, `"category:name"`; any tracepoint with a format file.
    public static func tracepoint(_ tp: String) -> ProbeTarget { ProbeTarget(kind: .tracepoint(tp)) }

    /// A syscall's entry, by its plain name (`"bind"`), through the best mechanism the kernel
    /// offers: its `syscalls:sys_enter_<name>` tracepoint.
    public static func syscall(_ name: String) -> ProbeTarget { ProbeTarget(kind: .syscall(name)) }

    /// A syscall's return, by its plain name (`"read"`): its `syscalls:sys_exit_<name>`
    /// tracepoint, whose `ret` field is the return value (a negative errno on failure).
    public static func syscallExit(_ name: String) -> ProbeTarget { ProbeTarget(kind: .syscallExit(name)) }

    /// The entry of a kernel function. A syscall's entry function (`__x64_sys_bind`) carries
    /// the syscall's named arguments; on a kernel without kprobes it falls back to the
    /// syscall's entry tracepoint.
    public static func kprobe(_ function: String) -> ProbeTarget { ProbeTarget(kind: .kprobe(function)) }

    public var description: String {
        switch kind {
        case .tracepoint(let tp): return "tracepoint \(tp)"
        case .syscall(let name): return "syscall \(name)"
        case .syscallExit(let name): return "syscall exit \(name)"
        case .kprobe(let function): return "kprobe \(function)"
        }
    }
}
