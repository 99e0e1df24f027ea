extension EBPFWrapper {
    /// How `target` reaches the kernel here, and the format its fields come from.
    func resolve(_ target: ProbeTarget) throws(EBPFError) -> (ProbeProgram.Mechanism, TracepointFormat?) {
        switch target.kind {
        case .tracepoint(let tp):
            let (category, name) = try Tracefs.splitTracepoint(tp)
            return (
                .tracepoint(category: category, name: name), try TracepointFormat.load(category: category, name: name)
            )

        case .syscall(let name):
            try NameValidation.identifier(name, what: "syscall name")
            return (.tracepoint(category: "syscalls", name: "sys_enter_" + name), try syscallFormat(name))

        case .syscallExit(let name):
            try NameValidation.identifier(name, what: "syscall name")
            return (.tracepoint(category: "syscalls", name: "sys_exit_" + name), try syscallFormat(name, exit: true))

        case .kprobe(let function, let dereferencing):
            try NameValidation.symbol(function, what: "kernel function name")
            // With this kernel's prefix known, only its functions are syscalls (on x86-64,
            // sys_copyarea is a framebuffer function); without it, any known prefix counts.
            let isSyscallFunction = KernelSymbols.syscallPrefix.map { function.hasPrefix($0) } ?? true
            let syscall = isSyscallFunction ? KernelSymbols.syscallName(fromFunction: function) : nil
            let format = try syscall.map { (name) throws(EBPFError) in try syscallFormat(name) }
            guard KernelFeatures.supportsKprobes else {
                guard let syscall, let format else {
                    throw Self.kprobesUnsupported(event: function, kind: .kprobe)
                }
                logger.info(
                    "this kernel has no kprobe support; probing \(function) through the tracepoint syscalls:sys_enter_\(syscall), which carries the same arguments"
                )
                return (.tracepoint(category: "syscalls", name: "sys_enter_" + syscall), format)
            }
            #if arch(x86_64)
            if let format {
                // Since 4.17 x86-64 syscall functions (__x64_sys_*) take one struct pt_regs *
                // of the caller's registers; sys_* before took the arguments themselves.
                return (.syscallKprobe(function: function, wrapped: function.hasPrefix("__")), format)
            }
            #endif
            return (
                .functionKprobe(
                    function: function,
                    parameters: KernelParameter.of(function: function, dereferencing: dereferencing)),
                nil
            )

        case .kernelFunction(let function, let exit, let dereferencing):
            try NameValidation.symbol(function, what: "kernel function name")
            try KernelFeatures.requireTracingPrograms(for: exit ? .kretfunc : .kfunc, function: function)
            guard let signature = KernelParameter.signature(of: function, dereferencing: dereferencing) else {
                throw Self.functionNotInBTF(function)
            }
            return (
                .kernelFunction(
                    function: function, exit: exit, parameters: signature.parameters, count: signature.count,
                    returnValue: exit ? signature.returnValue : nil),
                nil
            )

        case .usdt(let spec, let binary, let pid, let strings):
            let probe = try Self.findProbe(spec, in: binary, pid: pid)
            for number in strings {
                guard probe.arguments.indices.contains(number - 1) else {
                    throw EBPFError(
                        .invalidArgument,
                        "USDT probe \(probe) has \(probe.arguments.count) arguments, so argument \(number) cannot be a string; they are numbered from 1"
                    )
                }
                guard try USDTArgumentReader.valueType(of: probe, argument: number - 1).size == 8 else {
                    throw EBPFError(
                        .invalidArgument,
                        "argument \(number) of USDT probe \(probe) is \(probe.arguments[number - 1]), too narrow for a pointer to a string"
                    )
                }
            }
            return (.usdt(probe: probe, pid: pid, strings: strings), nil)
        }
    }

    /// The format of `name`'s entry tracepoint (its arguments), or of its exit (`ret`).
    private func syscallFormat(_ name: String, exit: Bool = false) throws(EBPFError) -> TracepointFormat {
        let tracepoint = (exit ? "sys_exit_" : "sys_enter_") + name
        do {
            return try TracepointFormat.load(category: "syscalls", name: tracepoint)
        } catch  where error.code == .notFound {
            throw EBPFError(
                .notFound,
                "this kernel has no syscall named '\(name)' (no tracepoint syscalls:\(tracepoint)); the list is under \((try? Tracefs.root()) ?? "/sys/kernel/tracing")/events/syscalls"
            )
        }
    }
}
