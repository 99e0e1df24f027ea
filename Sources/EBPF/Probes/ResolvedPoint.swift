import EBPFKernel

/// An attach point resolved against this kernel: where a generated program attaches (a
/// syscall as its tracepoint, a USDT probe in the binary found to hold it) and how the
/// program reads the event's fields there.
struct ResolvedPoint: Sendable, Hashable {
    /// How a generated program reads the event's fields.
    enum Arguments: Sendable, Hashable {
        /// From the tracepoint's record, at the offsets of its format file.
        case tracepointRecord
        /// From a syscall entry function's argument registers, named by the syscall's
        /// `sys_enter_` format; `wrapped` when the kernel passes the caller's registers
        /// through a `struct pt_regs *` (x86-64 since 4.17).
        case syscallRegisters(wrapped: Bool)
        /// From a kernel function's first six argument registers, named and typed from BTF
        /// when `parameters` (else `arg0`…`arg5`, as raw integers).
        case functionRegisters(parameters: [KernelParameter]?)
        /// From a BPF trampoline's context: the function's `count` arguments (the first six
        /// described from BTF), and at fexit its return value after them.
        case trampoline(parameters: [KernelParameter], count: Int, returnValue: KernelParameter?)
        /// From each site of a USDT probe: its arguments as `arg1`…`argN`, those numbered in
        /// `strings` read as the strings they point to.
        case usdt(USDTProbe, strings: [Int])
        /// From a user function's argument registers, as `arg1`…`arg6` (64-bit integers;
        /// those numbered in `strings` read as the strings they point to), or at its return
        /// from the return register, as `ret`.
        case userRegisters(UserFunctionSites, strings: [Int])
        /// At a kernel function's return, from the return register: `ret`, typed from BTF
        /// when the kernel describes the function (else a 64-bit integer).
        case kernelReturn(returnValue: KernelParameter?)
        /// A perf event's sample: no fields of its own (the header's ids, and stacks).
        case sample
    }

    let point: AttachPoint
    let arguments: Arguments

    /// A tracepoint, its fields read from its record.
    static func tracepoint(category: String, name: String) -> ResolvedPoint {
        ResolvedPoint(point: .tracepoint("\(category):\(name)"), arguments: .tracepointRecord)
    }

    /// A kprobe on a syscall's entry function, its fields read from the argument registers.
    static func syscallKprobe(function: String, wrapped: Bool) -> ResolvedPoint {
        ResolvedPoint(point: .kprobe(function), arguments: .syscallRegisters(wrapped: wrapped))
    }

    /// A kprobe on any kernel function, its fields read from the argument registers.
    static func functionKprobe(function: String, parameters: [KernelParameter]?) -> ResolvedPoint {
        ResolvedPoint(point: .kprobe(function), arguments: .functionRegisters(parameters: parameters))
    }

    /// What the events are called: `syscalls:sys_enter_bind`, `kprobe:__x64_sys_bind`.
    var eventName: String { point.eventName }

    var programType: ProgramType { point.programType }

    /// The name the program's function must have: an fentry or fexit program's kernel
    /// function is found from it (bcc's `kfunc__<function>`); nil where any will do.
    var requiredFunctionName: String? {
        guard case .kernelFunction(let function, let exit) = point.location else { return nil }
        return KernelFunctionProbe.functionName(function, exit: exit)
    }

    /// The `#include` lines a generated function needs: kprobes and uprobes read `struct pt_regs`.
    var includes: [String] {
        switch programType {
        case .kprobe: return ["#include <uapi/linux/ptrace.h>"]
        case .perfEvent: return ["#include <uapi/linux/bpf_perf_event.h>"]
        default: return []
        }
    }

    /// The declaration of a generated function's one parameter: the tracepoint's record,
    /// the trampoline's arguments, or the probe's registers.
    var contextDeclaration: String {
        switch programType {
        case .tracing: return "unsigned long long *ctx"
        case .kprobe: return "struct pt_regs *ctx"
        case .perfEvent: return "struct bpf_perf_event_data *ctx"
        default: return "void *ctx"
        }
    }

    /// Whether the event's pointers point into the traced process: a syscall's arguments,
    /// a user function's; not a kernel tracepoint's.
    var pointersAreUser: Bool {
        if case .tracepoint(let tp) = point.location { return tp.hasPrefix("syscalls:") }
        return true
    }

    /// Checks what the generated C will need: that every argument of a USDT probe can be
    /// read by a BPF program.
    ///
    /// - Throws: ``EBPFError/Code/notSupported`` naming the argument that cannot.
    func validate() throws(EBPFError) {
        guard case .usdt(let probe, _) = arguments else { return }
        for index in probe.arguments.indices {
            _ = try USDTArgumentReader.read(probe, argument: index, into: "ebpf_value")
        }
    }
}
