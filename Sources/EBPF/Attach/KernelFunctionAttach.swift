/// bcc's names for fentry and fexit functions: `KFUNC_PROBE(f, …)` defines `kfunc__f`,
/// `KRETFUNC_PROBE(f, …)` defines `kretfunc__f`, and from libbcc 0.28 `kfunc__vmlinux__f` and
/// `kretfunc__vmlinux__f` (the function's module, then its name). The program is loaded for
/// `f`'s BTF id, found from the name.
enum KernelFunctionProbe {
    static let entryPrefix = "kfunc__"
    static let exitPrefix = "kretfunc__"
    /// The kernel's own module, as libbcc 0.28+ writes it into the name.
    static let kernelModule = "vmlinux__"

    /// The name of the function a generated program defines for `function`.
    static func functionName(_ function: String, exit: Bool) -> String {
        (exit ? exitPrefix : entryPrefix) + function
    }

    /// The names a `KFUNC_PROBE(function)` (or `KRETFUNC_PROBE`) may have, older libbcc's first.
    static func functionNames(_ function: String, exit: Bool) -> [String] {
        [functionName(function, exit: exit), functionName(kernelModule + function, exit: exit)]
    }

    /// The kernel function a program's function name attaches to, and whether at its exit;
    /// nil for a name of neither scheme.
    static func target(ofFunctionNamed name: String) -> (function: String, isExit: Bool)? {
        let isExit = name.hasPrefix(exitPrefix)
        guard isExit || name.hasPrefix(entryPrefix) else { return nil }
        var function = name.dropFirst(isExit ? exitPrefix.count : entryPrefix.count)
        if function.hasPrefix(kernelModule) { function = function.dropFirst(kernelModule.count) }
        return function.isEmpty ? nil : (String(function), isExit)
    }
}

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

    /// Attaches the program's `kfunc__<function>` (or `kretfunc__`, either naming scheme) of
    /// `module`; the caller tracks the attachment.
    func makeKernelFunctionAttachment(_ function: String, exit: Bool, module: BPFModule) throws(EBPFError)
        -> Attachment
    {
        try checkOpen()
        try NameValidation.symbol(function, what: "kernel function name")
        let kind: Attachment.Kind = exit ? .kretfunc : .kfunc
        try KernelFeatures.requireTracingPrograms(for: kind, function: function)
        guard try BTF.kernel().function(named: function) != nil else { throw Self.functionNotInBTF(function) }
        let names = KernelFunctionProbe.functionNames(function, exit: exit)
        let fnName = names.first(where: module.functionNames.contains) ?? names[0]
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
