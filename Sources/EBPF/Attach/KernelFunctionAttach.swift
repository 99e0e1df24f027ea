/// bcc's names for fentry and fexit functions: `KFUNC_PROBE(f, …)` defines `kfunc__f`,
/// `KRETFUNC_PROBE(f, …)` defines `kretfunc__f`; libbcc finds `f`'s BTF id from the name.
enum KernelFunctionProbe {
    static let entryPrefix = "kfunc__"
    static let exitPrefix = "kretfunc__"
}

extension EBPFWrapper {
    /// Attaches the program's `KFUNC_PROBE(function, …)` to the entry of a kernel function
    /// (fentry, through a BPF trampoline: cheaper than a kprobe), as bcc's
    /// `attach_kfunc(fn_name=…)`.
    ///
    /// - Parameter function: The kernel function, as named in `KFUNC_PROBE`; the program's
    ///   function is `kfunc__<function>`.
    /// - Throws: ``EBPFError/Code/notSupported`` where the kernel refuses tracing programs
    ///   (saying what it answered), ``EBPFError/Code/notFound`` for a function the kernel's
    ///   BTF lacks, and the errors of loading and attaching.
    @discardableResult
    public func attachKfunc(function: String) throws(EBPFError) -> Attachment {
        try track(makeKernelFunctionAttachment(function, exit: false, module: try nativeModule()))
    }

    /// Attaches the program's `KRETFUNC_PROBE(function, …, ret)` to the return of a kernel
    /// function (fexit), as bcc's `attach_kretfunc(fn_name=…)`: it sees the arguments and
    /// the return value.
    ///
    /// - Throws: as ``attachKfunc(function:)``.
    @discardableResult
    public func attachKretfunc(function: String) throws(EBPFError) -> Attachment {
        try track(makeKernelFunctionAttachment(function, exit: true, module: try nativeModule()))
    }

    /// The error for a function the kernel's BTF does not describe.
    static func functionNotInBTF(_ function: String) -> EBPFError {
        EBPFError(
            .notFound,
            "the kernel's BTF has no function '\(function)': it is not a function of this kernel, or it was inlined everywhere (bpftool btf dump file /sys/kernel/btf/vmlinux lists them)"
        )
    }

    /// Attaches the program's `kfunc__<function>` (or `kretfunc__`) of `module`; the caller
    /// tracks the attachment.
    func makeKernelFunctionAttachment(_ function: String, exit: Bool, module: BPFModule) throws(EBPFError)
        -> Attachment
    {
        try checkOpen()
        try NameValidation.symbol(function, what: "kernel function name")
        let kind: Attachment.Kind = exit ? .kretfunc : .kfunc
        try KernelFeatures.requireTracingPrograms(for: kind, function: function)
        guard try BTF.kernel().function(named: function) != nil else { throw Self.functionNotInBTF(function) }
        let fnName = (exit ? KernelFunctionProbe.exitPrefix : KernelFunctionProbe.entryPrefix) + function
        let attachment = try module.withFunction(fnName, type: .tracing) { (program) throws(EBPFError) -> Attachment in
            do throws(SystemCallFailure) {
                let hook = try LibBCC.Hook.kernelFunction(program: program)
                return Attachment(kind: kind, target: function, functionName: fnName, hook: hook)
            } catch {
                throw error.error(.attachFailed, "could not attach '\(fnName)' as \(kind) on '\(function)'")
            }
        }
        return attachment
    }
}
