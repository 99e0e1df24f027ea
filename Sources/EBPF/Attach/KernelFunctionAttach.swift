import EBPFKernel
import EBPFProgram

extension Session {
    /// The error for a function the kernel's BTF does not describe.
    static func functionNotInBTF(_ function: String) -> EBPFError {
        EBPFError(
            .notFound,
            "the kernel's BTF has no function '\(function)': it is not a function of this kernel, or it was inlined everywhere (bpftool btf dump file /sys/kernel/btf/vmlinux lists them)"
        )
    }

    /// Loads `fnName` of `module`, which must be named for the fentry or fexit `point`
    /// (`kfunc__<function>` or `kretfunc__`, in either naming scheme, whichever libbcc
    /// defined), and attaches it; the caller tracks the attachment.
    func makeKernelFunctionAttachment(module: BPFModule, point: AttachPoint, fnName: String) throws(EBPFError)
        -> Attachment
    {
        guard case .kernelFunction(let function, let exit) = point.location else {
            preconditionFailure("\(point) is not an fentry or fexit")
        }
        try KernelFeatures.requireTracingPrograms(for: point.kind, function: function)
        guard try BTF.kernel().function(named: function) != nil else { throw Self.functionNotInBTF(function) }
        let names = KernelFunctionProbe.functionNames(function, exit: exit)
        guard names.contains(fnName) else {
            throw EBPFError(
                .invalidArgument,
                "an \(point.kind) program for \(function) is named \(names.joined(separator: " or ")) (bcc's \(exit ? "KRETFUNC_PROBE" : "KFUNC_PROBE")(\(function), …)), not \(NameValidation.quoted(fnName)): the kernel function is found from the name"
            )
        }
        // Either scheme's name is accepted: the program's function is the one this libbcc
        // defined (`kfunc__f` before 0.28, `kfunc__vmlinux__f` from it).
        let defined = try module.functionNames
        let name =
            names.contains(fnName) && !defined.contains(fnName)
            ? names.first(where: defined.contains) ?? fnName : fnName
        return try module.withFunction(name, type: .tracing) { (program) throws(EBPFError) -> Attachment in
            do throws(SystemCallFailure) {
                let hook = try LibBCC.Hook.kernelFunction(program: program)
                return Attachment(point: point, functionName: name, hook: hook)
            } catch {
                throw error.error(.attachFailed, "could not attach '\(name)' at \(point)")
            }
        }
    }
}
