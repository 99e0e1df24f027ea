import EBPFKernel
import EBPFProgram

extension EBPFWrapper {
    /// Attaches the program's `KFUNC_PROBE(function, …)` to the entry of a kernel function
    /// (fentry, through a BPF trampoline: cheaper than a kprobe), as bcc's
    /// `attach_kfunc(fn_name=…)`.
    ///
    /// - Parameter function: The kernel function, as named in `KFUNC_PROBE`; the program's
    ///   function is `kfunc__<function>` (`kfunc__vmlinux__<function>` from libbcc 0.28).
    /// - Throws: ``EBPFError/Code/notSupported`` where the kernel refuses tracing programs
    ///   (saying what it answered), ``EBPFError/Code/notFound`` for a function the kernel's
    ///   BTF lacks, and the errors of loading and attaching.
    @discardableResult
    public func attachKfunc(function: String) throws(EBPFError) -> Attachment {
        try attach(function: try kernelFunctionProgram(function, exit: false), to: .fentry(function))
    }

    /// Attaches the program's `KRETFUNC_PROBE(function, …, ret)` to the return of a kernel
    /// function (fexit), as bcc's `attach_kretfunc(fn_name=…)`: it sees the arguments and
    /// the return value.
    ///
    /// - Throws: as ``attachKfunc(function:)``.
    @discardableResult
    public func attachKretfunc(function: String) throws(EBPFError) -> Attachment {
        try attach(function: try kernelFunctionProgram(function, exit: true), to: .fexit(function))
    }

    /// The name the program's `KFUNC_PROBE(function)` (or `KRETFUNC_PROBE`) has, in either
    /// naming scheme.
    private func kernelFunctionProgram(_ function: String, exit: Bool) throws(EBPFError) -> String {
        let names = KernelFunctionProbe.functionNames(function, exit: exit)
        return names.first(where: try nativeModule().functionNames.contains) ?? names[0]
    }

    /// The error for a function the kernel's BTF does not describe.
    static func functionNotInBTF(_ function: String) -> EBPFError {
        EBPFError(
            .notFound,
            "the kernel's BTF has no function '\(function)': it is not a function of this kernel, or it was inlined everywhere (bpftool btf dump file /sys/kernel/btf/vmlinux lists them)"
        )
    }

    /// Loads `fnName` of `module`, which must be named for the fentry or fexit `point`
    /// (`kfunc__<function>` or `kretfunc__`, either naming scheme), and attaches it; the
    /// caller tracks the attachment.
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
        return try module.withFunction(fnName, type: .tracing) { (program) throws(EBPFError) -> Attachment in
            do throws(SystemCallFailure) {
                let hook = try LibBCC.Hook.kernelFunction(program: program)
                return Attachment(point: point, functionName: fnName, hook: hook)
            } catch {
                throw error.error(.attachFailed, "could not attach '\(fnName)' at \(point)")
            }
        }
    }
}
