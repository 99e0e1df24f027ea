import EBPFKernel

extension Session {
    /// How a generated program reaches `point` here and reads its fields, and the format its
    /// fields come from.
    func resolve(_ point: AttachPoint, reading: ArgumentReading) throws(EBPFError) -> (
        ResolvedPoint, TracepointFormat?
    ) {
        try point.validate()
        switch point.location {
        case .tracepoint(let tp):
            let (category, name) = try Tracefs.splitTracepoint(tp)
            return (
                ResolvedPoint(point: point, arguments: .tracepointRecord),
                try TracepointFormat.load(category: category, name: name)
            )

        case .syscall(let name, let exit):
            let format = try syscallFormat(name, exit: exit)
            return (
                ResolvedPoint(point: .syscallTracepoint(name, exit: exit), arguments: .tracepointRecord), format
            )

        case .kprobe(let function, 0):
            // With this kernel's prefix known, only its functions are syscalls (on x86-64,
            // sys_copyarea is a framebuffer function); without it, any known prefix counts.
            let isSyscallFunction = KernelSymbols.syscallPrefix.map { function.hasPrefix($0) } ?? true
            let syscall = isSyscallFunction ? KernelSymbols.syscallName(fromFunction: function) : nil
            let format = try syscall.map { (name) throws(EBPFError) in try syscallFormat(name) }
            guard KernelFeatures.supportsKprobes else {
                guard let syscall, let format else { throw Self.kprobesUnsupported(at: point) }
                logger.info(
                    "this kernel has no kprobe support; probing \(function) through the tracepoint syscalls:sys_enter_\(syscall), which carries the same arguments"
                )
                return (
                    ResolvedPoint(point: .syscallTracepoint(syscall, exit: false), arguments: .tracepointRecord),
                    format
                )
            }
            #if arch(x86_64)
            if let format {
                // Since 4.17 x86-64 syscall functions (__x64_sys_*) take one struct pt_regs *
                // of the caller's registers; sys_* before took the arguments themselves.
                return (
                    ResolvedPoint(point: point, arguments: .syscallRegisters(wrapped: function.hasPrefix("__"))), format
                )
            }
            #endif
            let parameters = KernelParameter.of(function: function, dereferencing: reading.socketAddresses)
            return (ResolvedPoint(point: point, arguments: .functionRegisters(parameters: parameters)), nil)

        case .kernelFunction(let function, let exit):
            try KernelFeatures.requireTracingPrograms(for: point.kind, function: function)
            guard let signature = KernelParameter.signature(of: function, dereferencing: reading.socketAddresses)
            else {
                throw Self.functionNotInBTF(function)
            }
            return (
                ResolvedPoint(
                    point: point,
                    arguments: .trampoline(
                        parameters: signature.parameters, count: signature.count,
                        returnValue: exit ? signature.returnValue : nil)),
                nil
            )

        case .usdt(let spec, let binary, let pid):
            let probe = try Self.findProbe(spec, in: binary, pid: pid)
            // The numbers this probe has; ``checkStringsRead(_:by:)`` refuses one no probe has.
            let strings = reading.strings.sorted().filter { probe.arguments.indices.contains($0 - 1) }
            for number in strings {
                guard try USDTArgumentReader.valueType(of: probe, argument: number - 1).size == 8 else {
                    throw EBPFError(
                        .invalidArgument,
                        "argument \(number) of USDT probe \(probe) is \(probe.arguments[number - 1]), too narrow for a pointer to a string"
                    )
                }
            }
            return (
                ResolvedPoint(
                    point: .usdt(probe.description, in: probe.binaryPath, pid: pid),
                    arguments: .usdt(probe, strings: strings)),
                nil
            )

        case .userFunction(_, _, _, let isReturn, _):
            let sites = try userFunctionSites(point)
            let strings = isReturn ? [] : reading.strings.sorted().filter { (1...6).contains($0) }
            return (ResolvedPoint(point: sites.point, arguments: .userRegisters(sites, strings: strings)), nil)

        case .kretprobe(let function, _):
            guard KernelFeatures.supportsKprobes else { throw Self.kprobesUnsupported(at: point) }
            let returnValue = KernelParameter.signature(of: function, dereferencing: false)?.returnValue
            return (ResolvedPoint(point: point, arguments: .kernelReturn(returnValue: returnValue)), nil)

        case .perfEvent, .watchpoint:
            return (ResolvedPoint(point: point, arguments: .sample), nil)

        case .kprobe, .rawTracepoint:
            throw EBPFError(
                .notSupported,
                "the library does not generate programs for \(point) yet; write the program in C and attach it with attach(function:to:)"
            )

        case .lsm, .xdp, .trafficControl, .cgroupProgram:
            throw EBPFError(
                .notSupported,
                "\(point) runs a program whose return value decides (a verdict), not one that records events: write it in C and attach it with attach(function:to:)"
            )
        }
    }

    /// Throws when an argument number of `reading.strings` is read by none of the USDT
    /// probes and uprobes in `resolved`: each number applies to the probes that have the
    /// argument.
    func checkStringsRead(_ reading: ArgumentReading, by resolved: [ResolvedPoint]) throws(EBPFError) {
        var probes: [USDTProbe] = []
        var userFunctions = 0
        var read: Set<Int> = []
        for point in resolved {
            switch point.arguments {
            case .usdt(let probe, let strings):
                probes.append(probe)
                read.formUnion(strings)
            case .userRegisters(let sites, let strings) where !sites.isReturn:
                userFunctions += 1
                read.formUnion(strings)
            default: continue
            }
        }
        guard let number = reading.strings.subtracting(read).min() else { return }
        guard probes.count == 1, userFunctions == 0, let probe = probes.first else {
            throw EBPFError(
                .invalidArgument,
                "argument \(number) cannot be a string: "
                    + (probes.isEmpty && userFunctions == 0
                        ? "strings apply to the arguments of USDT probes and of uprobes, and none is attached here"
                        : "none of the probes here has an argument \(number); a uprobe has arg1…arg6, a USDT probe its own, numbered from 1")
            )
        }
        throw EBPFError(
            .invalidArgument,
            "USDT probe \(probe) has \(probe.arguments.count) arguments, so argument \(number) cannot be a string; they are numbered from 1"
        )
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
