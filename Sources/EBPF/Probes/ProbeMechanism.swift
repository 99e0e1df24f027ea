extension ProbeProgram.Mechanism {
    /// What the events are called: `syscalls:sys_enter_bind`, `kprobe:__x64_sys_bind`.
    var eventName: String {
        switch self {
        case .tracepoint(let category, let name): return "\(category):\(name)"
        case .syscallKprobe(let function, _), .functionKprobe(let function): return "kprobe:\(function)"
        }
    }

    /// The tracepoint (`category:name`) or kernel function a program attaches to.
    var attachPoint: String {
        switch self {
        case .tracepoint(let category, let name): return "\(category):\(name)"
        case .syscallKprobe(let function, _), .functionKprobe(let function): return function
        }
    }

    var programType: ProgramType {
        if case .tracepoint = self { return .tracepoint }
        return .kprobe
    }

    /// The `#include` lines a generated function needs: kprobes read `struct pt_regs`.
    var includes: [String] {
        if case .tracepoint = self { return [] }
        return ["#include <uapi/linux/ptrace.h>"]
    }

    /// The declaration of a generated function's one parameter: the tracepoint's record, or
    /// the kprobe's registers.
    var contextDeclaration: String {
        if case .tracepoint = self { return "void *ctx" }
        return "struct pt_regs *ctx"
    }
}
