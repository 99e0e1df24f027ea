extension ProbeProgram.Mechanism {
    /// What the events are called: `syscalls:sys_enter_bind`, `kprobe:__x64_sys_bind`.
    var eventName: String {
        switch self {
        case .tracepoint(let category, let name): return "\(category):\(name)"
        case .syscallKprobe(let function, _), .functionKprobe(let function, _): return "kprobe:\(function)"
        case .usdt(let probe, _, _): return "usdt:\(probe.binaryPath):\(probe)"
        case .kernelFunction(let function, let exit, _, _, _): return (exit ? "fexit:" : "fentry:") + function
        }
    }

    /// The tracepoint (`category:name`), kernel function or USDT probe a program attaches to.
    var attachPoint: String {
        switch self {
        case .tracepoint(let category, let name): return "\(category):\(name)"
        case .syscallKprobe(let function, _), .functionKprobe(let function, _): return function
        case .usdt(let probe, _, _): return "\(probe.binaryPath):\(probe)"
        case .kernelFunction(let function, _, _, _, _): return function
        }
    }

    var programType: ProgramType {
        switch self {
        case .tracepoint: return .tracepoint
        case .kernelFunction: return .tracing
        case .syscallKprobe, .functionKprobe, .usdt: return .kprobe
        }
    }

    /// The name the program's function must have: an fentry or fexit program's kernel
    /// function is found from it (bcc's `kfunc__<function>`); nil where any will do.
    var requiredFunctionName: String? {
        guard case .kernelFunction(let function, let exit, _, _, _) = self else { return nil }
        return KernelFunctionProbe.functionName(function, exit: exit)
    }

    /// The `#include` lines a generated function needs: kprobes and uprobes read `struct pt_regs`.
    var includes: [String] {
        switch self {
        case .tracepoint, .kernelFunction: return []
        case .syscallKprobe, .functionKprobe, .usdt: return ["#include <uapi/linux/ptrace.h>"]
        }
    }

    /// The declaration of a generated function's one parameter: the tracepoint's record, or
    /// the kprobe's registers.
    var contextDeclaration: String {
        switch self {
        case .tracepoint: return "void *ctx"
        case .kernelFunction: return "unsigned long long *ctx"
        case .syscallKprobe, .functionKprobe, .usdt: return "struct pt_regs *ctx"
        }
    }

    /// Checks what the generated C will need: that every argument of a USDT probe can be
    /// read by a BPF program.
    ///
    /// - Throws: ``EBPFError/Code/notSupported`` naming the argument that cannot.
    func validate() throws(EBPFError) {
        guard case .usdt(let probe, _, _) = self else { return }
        for index in probe.arguments.indices {
            _ = try USDTArgumentReader.read(probe, argument: index, into: "ebpf_value")
        }
    }
}
