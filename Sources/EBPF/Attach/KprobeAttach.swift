import EBPFKernel
import EBPFProgram

extension Session {

    /// Loads `fnName` from `module` and attaches it at the kprobe or kretprobe `point`
    /// (on `function`); the caller tracks it.
    func makeKprobeAttachment(
        module: BPFModule, point: AttachPoint, function: String, fnName: String, offset: UInt64 = 0,
        maxActive: Int = 0
    ) throws(EBPFError) -> Attachment {
        let isReturn = point.kind == .kretprobe
        let eventName = ProbeEventName.make(isReturn ? "r" : "p", function)
        guard let maxActive = Int32(exactly: maxActive) else {
            throw EBPFError(.invalidArgument, "maxactive \(maxActive) is beyond what the kernel takes")
        }
        return try module.withFunction(fnName, type: .kprobe) { (program) throws(EBPFError) -> Attachment in
            guard KernelFeatures.supportsKprobes else { throw Self.kprobesUnsupported(at: point) }
            do throws(SystemCallFailure) {
                let hook = try LibBCC.Hook.kprobe(
                    program: program, isReturn: isReturn, eventName: eventName, function: function, offset: offset,
                    maxActive: maxActive)
                return Attachment(point: point, functionName: fnName, hook: hook)
            } catch {
                // Kernels differ in the errno for a symbol they lack (6.1: ENOENT, 6.12: EINVAL).
                if KernelSymbols.syscallPrefix != nil, symbols.ksymname(function) == nil {
                    throw EBPFError(
                        .notFound,
                        "could not attach '\(fnName)' at \(point): the kernel has no function '\(function)' (it is not in /proc/kallsyms)",
                        call: error.call, errno: error.errno)
                }
                throw error.error(
                    .attachFailed,
                    "could not attach '\(fnName)' at \(point): the function may not exist, be inlined or be marked notrace, or the offset may not be an instruction's (check /proc/kallsyms and available_filter_functions)"
                )
            }
        }
    }

    /// The error for a kprobe or kretprobe on a kernel without kprobes, naming the
    /// tracepoint to use instead when the function is a syscall's.
    static func kprobesUnsupported(at point: AttachPoint) -> EBPFError {
        var advice =
            "attach to a tracepoint instead (tracepoint:CATEGORY:NAME; the kernel's list is in /sys/kernel/tracing/available_events)"
        if case .kprobe(let function, _) = point.location,
            let syscall = KernelSymbols.syscallName(fromFunction: function)
        {
            advice = "for this syscall attach to tracepoint:syscalls:sys_enter_\(syscall) instead"
        } else if case .kretprobe(let function, _) = point.location,
            let syscall = KernelSymbols.syscallName(fromFunction: function)
        {
            advice = "for this syscall attach to tracepoint:syscalls:sys_exit_\(syscall) instead"
        }
        return EBPFError(
            .notSupported,
            "cannot attach at \(point): this kernel has no kprobe support (built without CONFIG_KPROBES: there is no /sys/bus/event_source/devices/kprobe and no kprobe_events in tracefs); \(advice)"
        )
    }
}
