import EBPFKernel
import EBPFProgram

extension Session {

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
