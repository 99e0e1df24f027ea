import EBPFKernel
import EBPFProgram

extension EBPFWrapper where Program == CProgram {
    /// Attaches the program's function `function` at `point`: one call for every kind of
    /// event, as bcc's `attach_*(…, fn_name=…)` family.
    ///
    /// ```swift
    /// try b.attach(function: "on_open", to: .tracepoint("syscalls:sys_enter_openat"))
    /// try b.attach(function: "on_read", to: AttachPoint(parsing: "uretprobe:c:read"))
    /// ```
    ///
    /// The function is loaded as the type the point needs (``AttachPoint/programType``); an
    /// fentry or fexit function must be named as bcc's `KFUNC_PROBE` names it
    /// (`kfunc__<function>`, or `kfunc__vmlinux__<function>` from libbcc 0.28: either
    /// name finds the one this libbcc defined).
    ///
    /// - Returns: A handle that detaches the program; the wrapper detaches it too when closed.
    /// - Throws: ``EBPFError/Code/invalidArgument`` for a malformed point,
    ///   ``EBPFError/Code/notFound`` for an event, function, symbol or binary that does not
    ///   exist, ``EBPFError/Code/notSupported`` for a kind this kernel lacks (saying what it
    ///   lacks), ``EBPFError/Code/attachFailed``, and the errors of ``loadFunction(_:type:)``.
    @discardableResult
    public func attach(function: String, to point: AttachPoint) throws(EBPFError) -> Attachment {
        try session.attach(function: function, to: point)
    }

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
        try attach(function: fnName, to: .kprobe(event))
    }

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
}

extension Session {
    func attach(function: String, to point: AttachPoint) throws(EBPFError) -> Attachment {
        try checkOpen()
        try point.validate()
        return try track(attachment(function, at: point, module: nativeModule()))
    }

    /// `function` of `module` attached at `point`, untracked: the one dispatch over the kinds
    /// of attach point, for native programs, closure probes and aggregations alike. `point`
    /// was validated (``AttachPoint/validate()``), or resolved from a validated one.
    ///
    /// - Parameters:
    ///   - tracepointID: A tracepoint's perf id when its format was just read (which checked
    ///     that the kernel has it).
    ///   - usdtProbe: The USDT probe `point` names, when it was just found.
    ///   - userSites: The functions a uprobe `point` names, when they were just found.
    func attachment(
        _ function: String, at point: AttachPoint, module: BPFModule, tracepointID: Int? = nil,
        usdtProbe: USDTProbe? = nil, userSites: UserFunctionSites? = nil
    ) throws(EBPFError) -> Attachment {
        // `point` was validated by the caller (a resolved one holds what the kernel named).
        switch point.location {
        case .tracepoint(let tp):
            let (category, name) = try Tracefs.splitTracepoint(tp)
            return try makeTracepointAttachment(
                module: module, category: category, name: name, fnName: function, id: tracepointID)
        case .syscall(let name, let exit):
            return try attachment(
                function, at: .syscallTracepoint(name, exit: exit), module: module, tracepointID: tracepointID)
        case .rawTracepoint(let name):
            return try makeRawTracepointAttachment(module: module, tp: name, fnName: function)
        case .kprobe(let kernelFunction, let offset):
            return try makeKprobeAttachment(
                module: module, point: point, function: kernelFunction, fnName: function, offset: offset)
        case .kretprobe(let kernelFunction, let maxActive):
            return try makeKprobeAttachment(
                module: module, point: point, function: kernelFunction, fnName: function, maxActive: maxActive)
        case .kernelFunction:
            return try makeKernelFunctionAttachment(module: module, point: point, fnName: function)
        case .userFunction:
            let sites: UserFunctionSites
            if let userSites { sites = userSites } else { sites = try userFunctionSites(point) }
            return try makeUserProbeAttachment(module: module, sites: sites, fnName: function)
        case .usdt(let spec, let binary, let pid):
            var probe: USDTProbe
            if let usdtProbe { probe = usdtProbe } else { probe = try Self.findProbe(spec, in: binary, pid: pid) }
            return try makeUSDTAttachment(probe, fnName: function, pid: pid, module: module)
        case .perfEvent:
            return try makePerfEventAttachment(module: module, point: point, fnName: function)
        case .watchpoint:
            return try makeWatchpointAttachment(module: module, point: point, fnName: function)
        case .lsm:
            return try makeLSMAttachment(module: module, point: point, fnName: function)
        case .xdp:
            return try makeXDPAttachment(module: module, point: point, fnName: function)
        case .trafficControl:
            return try makeTrafficControlAttachment(module: module, point: point, fnName: function)
        case .cgroupProgram:
            return try makeCgroupProgramAttachment(module: module, point: point, fnName: function)
        }
    }
}
