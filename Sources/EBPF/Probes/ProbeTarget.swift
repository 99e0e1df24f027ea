/// What a closure probe attaches to.
public struct ProbeTarget: Sendable, Hashable, CustomStringConvertible {
    enum Kind: Sendable, Hashable {
        case tracepoint(String)
        case syscall(String)
        case syscallExit(String)
        case kprobe(String, dereferencing: Bool)
        case usdt(probe: String, binary: String?, pid: Int32?, strings: [Int])
        case kernelFunction(String, exit: Bool, dereferencing: Bool)
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
    /// syscall's entry tracepoint. Another function's events carry its first six parameters
    /// named and typed from the kernel's BTF (`sk`, `filename` as a string), or `arg0`…`arg5`
    /// where BTF does not describe it.
    public static func kprobe(_ function: String) -> ProbeTarget {
        ProbeTarget(kind: .kprobe(function, dereferencing: false))
    }

    /// The entry of a kernel function, its parameters from BTF, and each `struct sock *`
    /// parameter read one level down: `sk_family` and the socket's addresses as
    /// `sk_source` and `sk_destination` (`127.0.0.1:8080`), at the offsets BTF gives for this
    /// kernel — what bcc's `tcpconnect` reads from `tcp_v4_connect`.
    public static func kprobe(_ function: String, dereferencing: Bool) -> ProbeTarget {
        ProbeTarget(kind: .kprobe(function, dereferencing: dereferencing))
    }

    /// The entry of a kernel function through fentry (a BPF trampoline: cheaper than a
    /// kprobe), its first six parameters named and typed from BTF as for
    /// ``kprobe(_:dereferencing:)``. Kernels that refuse tracing programs throw
    /// ``EBPFError/Code/notSupported`` saying so.
    public static func kfunc(_ function: String, dereferencing: Bool = false) -> ProbeTarget {
        ProbeTarget(kind: .kernelFunction(function, exit: false, dereferencing: dereferencing))
    }

    /// The return of a kernel function through fexit: its parameters as at entry, and its
    /// return value as `ret`.
    public static func kretfunc(_ function: String, dereferencing: Bool = false) -> ProbeTarget {
        ProbeTarget(kind: .kernelFunction(function, exit: true, dereferencing: dereferencing))
    }

    /// A USDT probe (`provider:name`, or a name alone) of an executable or library, or of
    /// the binaries process `pid` maps (with a `pid`, only that process's events). Its
    /// arguments arrive as `arg1`…`argN` (numbered as in `bpf_usdt_readarg`): integers of
    /// the probe's widths, and for the argument numbers in `strings`, the strings they point
    /// to (bpftrace's `str(arg0)`). A probe with a semaphore is enabled while attached.
    public static func usdt(
        _ probe: String, in binary: String? = nil, pid: Int32? = nil, strings: Set<Int> = []
    ) -> ProbeTarget {
        ProbeTarget(kind: .usdt(probe: probe, binary: binary, pid: pid, strings: strings.sorted()))
    }

    public var description: String {
        switch kind {
        case .tracepoint(let tp): return "tracepoint \(tp)"
        case .syscall(let name): return "syscall \(name)"
        case .syscallExit(let name): return "syscall exit \(name)"
        case .kprobe(let function, _): return "kprobe \(function)"
        case .kernelFunction(let function, let exit, _): return (exit ? "fexit " : "fentry ") + function
        case .usdt(let probe, let binary, let pid, _):
            return "usdt \(probe)" + (binary.map { " in \($0)" } ?? "") + (pid.map { " of process \($0)" } ?? "")
        }
    }
}
