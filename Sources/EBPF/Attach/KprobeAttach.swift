extension EBPFWrapper {
    /// Attaches the program's function `fnName` to the entry of the kernel function `event`,
    /// as bcc's `attach_kprobe(event=…, fn_name=…)`.
    ///
    /// For syscalls, pass ``syscallFunctionName(_:)`` (`__x64_sys_bind` on x86-64).
    ///
    /// - Throws: ``EBPFError/Code/notSupported`` on a kernel built without `CONFIG_KPROBES`
    ///   (the message names the tracepoint to use instead), ``EBPFError/Code/notFound`` for a
    ///   function the kernel does not have (not in /proc/kallsyms),
    ///   ``EBPFError/Code/attachFailed`` when the function cannot be probed, and the errors of
    ///   ``loadFunction(_:type:)``.
    ///
    /// The corresponding libbcc function is `bpf_attach_kprobe`.
    @discardableResult
    public func attachKprobe(event: String, fnName: String) throws(EBPFError) -> Attachment {
        try attachKernelProbe(event: event, fnName: fnName, isReturn: false)
    }

    /// Attaches the program's function `fnName` to the return of the kernel function
    /// `event`, as bcc's `attach_kretprobe(event=…, fn_name=…)`.
    ///
    /// - Throws: as ``attachKprobe(event:fnName:)``.
    ///
    /// The corresponding libbcc function is `bpf_attach_kprobe`.
    @discardableResult
    public func attachKretprobe(event: String, fnName: String) throws(EBPFError) -> Attachment {
        try attachKernelProbe(event: event, fnName: fnName, isReturn: true)
    }

    private func attachKernelProbe(event: String, fnName: String, isReturn: Bool) throws(EBPFError) -> Attachment {
        try checkOpen()
        return try track(makeKprobeAttachment(module: nativeModule(), event: event, fnName: fnName, isReturn: isReturn))
    }

    /// Loads `fnName` from `module` and attaches it to the kernel function `event`; the
    /// caller tracks it.
    func makeKprobeAttachment(
        module: BPFModule, event: String, fnName: String, isReturn: Bool
    ) throws(EBPFError) -> Attachment {
        try NameValidation.symbol(event, what: "kernel function name")
        let kind: Attachment.Kind = isReturn ? .kretprobe : .kprobe
        let eventName = ProbeEventName.make(isReturn ? "r" : "p", event)
        return try module.withFunction(fnName, type: .kprobe) { (program) throws(EBPFError) -> Attachment in
            guard KernelFeatures.supportsKprobes else {
                throw Self.kprobesUnsupported(event: event, kind: kind)
            }
            do throws(SystemCallFailure) {
                let hook = try LibBCC.Hook.kprobe(
                    program: program, isReturn: isReturn, eventName: eventName, function: event)
                return Attachment(kind: kind, target: event, functionName: fnName, hook: hook)
            } catch {
                // Kernels differ in the errno for a symbol they lack (6.1: ENOENT, 6.12: EINVAL).
                if KernelSymbols.syscallPrefix != nil, ksymname(event) == nil {
                    throw EBPFError(
                        .notFound,
                        "could not attach '\(fnName)' as a \(kind): the kernel has no function '\(event)' (it is not in /proc/kallsyms)",
                        call: error.call, errno: error.errno)
                }
                throw error.error(
                    .attachFailed,
                    "could not attach '\(fnName)' as a \(kind) on '\(event)': the function may not exist, be inlined or be marked notrace (check /proc/kallsyms and available_filter_functions)"
                )
            }
        }
    }

    /// The error for a kprobe on a kernel without kprobes, naming the tracepoint to use
    /// instead when `event` is a syscall's entry function.
    static func kprobesUnsupported(event: String, kind: Attachment.Kind) -> EBPFError {
        var advice =
            "attach to a tracepoint instead (attachTracepoint(tp:fnName:); the kernel's list is in /sys/kernel/tracing/available_events)"
        if let syscall = KernelSymbols.syscallName(fromFunction: event) {
            let point = kind == .kretprobe ? "sys_exit_" : "sys_enter_"
            advice = "for this syscall use attachTracepoint(tp: \"syscalls:\(point)\(syscall)\", fnName:) instead"
        }
        return EBPFError(
            .notSupported,
            "cannot attach a \(kind) to '\(event)': this kernel has no kprobe support (built without CONFIG_KPROBES: there is no /sys/bus/event_source/devices/kprobe and no kprobe_events in tracefs); \(advice)"
        )
    }
}
