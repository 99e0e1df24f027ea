import EBPFKernel
import EBPFProgram

extension EBPFWrapper {
    /// Attaches the program's function `fnName` to a raw tracepoint, as bcc's
    /// `attach_raw_tracepoint(tp=…, fn_name=…)`. Raw tracepoints receive the tracepoint's
    /// raw arguments (`struct bpf_raw_tracepoint_args *ctx`) and cost less than tracepoints.
    ///
    /// - Parameters:
    ///   - tp: The tracepoint's name without its category, e.g. `"sys_enter"` or
    ///     `"sched_switch"`.
    ///   - fnName: A function of the program, loaded as a raw tracepoint program.
    /// - Returns: A handle that detaches the probe.
    /// - Throws: ``EBPFError/Code/notFound`` for a tracepoint the kernel lacks, and the errors
    ///   of ``loadFunction(_:type:)``.
    ///
    /// Needs kernel 4.17 or later. The corresponding libbcc function is
    /// `bpf_attach_raw_tracepoint`.
    @discardableResult
    public func attachRawTracepoint(tp: String, fnName: String) throws(EBPFError) -> Attachment {
        try attach(function: fnName, to: .rawTracepoint(tp))
    }

    /// Loads `fnName` from `module` and attaches it to the raw tracepoint `tp`; the caller
    /// tracks it.
    func makeRawTracepointAttachment(module: BPFModule, tp: String, fnName: String) throws(EBPFError) -> Attachment {
        try module.withFunction(fnName, type: .rawTracepoint) { (program) throws(EBPFError) -> Attachment in
            do throws(SystemCallFailure) {
                let hook = try LibBCC.Hook.rawTracepoint(program: program, name: tp)
                return Attachment(point: .rawTracepoint(tp), functionName: fnName, hook: hook)
            } catch {
                throw error.error(
                    .attachFailed,
                    "could not attach '\(fnName)' to raw tracepoint \(tp); raw tracepoint names have no category (\"sys_enter\", not \"raw_syscalls:sys_enter\")"
                )
            }
        }
    }
}
