import EBPFKernel
import EBPFProgram

extension EBPFWrapper {
    /// Attaches the program's function `fnName` to a kernel tracepoint, as bcc's
    /// `attach_tracepoint(tp=…, fn_name=…)`.
    ///
    /// - Parameters:
    ///   - tp: `"category:name"`, e.g. `"syscalls:sys_enter_bind"`; the kernel's list is in
    ///     `<tracefs>/available_events`.
    ///   - fnName: A function of the program, loaded as a tracepoint program.
    /// - Returns: A handle that detaches the probe.
    /// - Throws: ``EBPFError/Code/invalidArgument`` for a malformed name,
    ///   ``EBPFError/Code/notFound`` for a tracepoint the kernel lacks,
    ///   ``EBPFError/Code/tracefsUnavailable``, and the errors of ``loadFunction(_:type:)``.
    ///
    /// Needs tracefs mounted. The corresponding libbcc function is `bpf_attach_tracepoint`.
    @discardableResult
    public func attachTracepoint(tp: String, fnName: String) throws(EBPFError) -> Attachment {
        try attach(function: fnName, to: .tracepoint(tp))
    }

    /// Loads `fnName` from `module` and attaches it to `category:name`; the caller tracks it.
    /// `id`: the tracepoint's perf id, when its format was just read (which checked that the
    /// kernel has it).
    func makeTracepointAttachment(
        module: BPFModule, category: String, name: String, fnName: String, id: Int? = nil
    ) throws(EBPFError) -> Attachment {
        if id == nil { _ = try Tracefs.tracepointDirectory(category: category, name: name) }
        return try module.withFunction(fnName, type: .tracepoint) { (program) throws(EBPFError) -> Attachment in
            do throws(SystemCallFailure) {
                let hook: LibBCC.Hook
                if let id {
                    hook = try LibBCC.Hook.tracepoint(program: program, id: id)
                } else {
                    hook = try LibBCC.Hook.tracepoint(program: program, category: category, name: name)
                }
                return Attachment(point: .tracepoint("\(category):\(name)"), functionName: fnName, hook: hook)
            } catch {
                throw error.error(.attachFailed, "could not attach '\(fnName)' to tracepoint \(category):\(name)")
            }
        }
    }
}
