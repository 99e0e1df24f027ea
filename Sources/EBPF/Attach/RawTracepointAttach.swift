import EBPFKernel
import EBPFProgram

extension Session {

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
