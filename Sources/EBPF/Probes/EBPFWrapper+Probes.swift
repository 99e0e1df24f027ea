import EBPFKernel
import EBPFProgram

extension EBPFWrapper {
    /// Attaches a generated probe to the entry of a kernel function, as pyebpf's
    /// `attach_kprobe(event, callback)`.
    ///
    /// For a syscall's entry function (``syscallFunctionName(_:)``) the events carry the
    /// syscall's named arguments, read behind the x86-64 syscall wrapper. On a kernel
    /// without kprobe support the probe falls back to the syscall's `sys_enter_`
    /// tracepoint (same fields) and logs that it did; for other functions it throws
    /// ``EBPFError/Code/notSupported``. Other functions' events carry `arg0`…`arg5`.
    @discardableResult
    public func attachKprobe(
        event: String, filter: ProbeFilter = ProbeFilter(), options: ProbeOptions = .default,
        handler: @escaping @Sendable (ProbeEvent) -> Void
    ) throws(EBPFError) -> Probe {
        try attach(.kprobe(event), filter: filter, options: options, handler: handler)
    }

    /// Attaches a generated probe to `point` and calls `handler` with each event.
    ///
    /// - Parameters:
    ///   - point: Where: a tracepoint, a syscall, a kernel function (kprobe, fentry, fexit)
    ///     or a USDT probe.
    ///   - filter: Conditions checked in the kernel; failing events never reach user space.
    ///   - options: String sizes and the perf buffer's configuration.
    ///   - lost: Called with the number of events the kernel dropped because the buffer was
    ///     full.
    ///   - handler: Called on the wrapper's polling thread with each event.
    @discardableResult
    public func attach(
        _ point: AttachPoint, filter: ProbeFilter = ProbeFilter(), options: ProbeOptions = .default,
        lost: (@Sendable (UInt64) -> Void)? = nil,
        handler: @escaping @Sendable (ProbeEvent) -> Void
    ) throws(EBPFError) -> Probe {
        try session.attachProbes(
            [point], filter: filter, options: options, lost: lost, drops: ConsumerDrops(), delivery: .copied(handler))[
                0]
    }

    /// Attaches a generated probe to each of `points`, all built as one program: tracepoints
    /// are emitted without clang, and where kprobes need a compile it is one compile, whatever
    /// the number of points. `handler` receives every probe's events;
    /// ``ProbeEvent/eventName`` tells them apart.
    ///
    /// ```swift
    /// let probes = try b.attach([.syscall("openat"), .syscall("connect"), .syscall("bind")]) { event in
    ///     print(event.eventName, event.processName)
    /// }
    /// ```
    ///
    /// All or nothing: when one point cannot be attached, none is, and the error says which.
    /// The probes share one perf buffer (one ring per CPU, however many points); each has
    /// its own received count and detaches on its own, and the program and the buffer are
    /// freed when the last of them detaches.
    ///
    /// - Parameters:
    ///   - points: Tracepoints, syscalls, kernel functions and USDT probes, in any mix.
    ///   - filter: Conditions checked in the kernel, for every point.
    ///   - options: String sizes and the perf buffers' configuration, for every point.
    ///   - lost: Called with the number of events the kernel dropped because a buffer was full.
    ///   - handler: Called on the wrapper's polling thread with each event.
    /// - Returns: The probes, in the order of `points`.
    @discardableResult
    public func attach(
        _ points: [AttachPoint], filter: ProbeFilter = ProbeFilter(), options: ProbeOptions = .default,
        lost: (@Sendable (UInt64) -> Void)? = nil,
        handler: @escaping @Sendable (ProbeEvent) -> Void
    ) throws(EBPFError) -> [Probe] {
        try session.attachProbes(
            points, filter: filter, options: options, lost: lost, drops: ConsumerDrops(), delivery: .copied(handler))
    }

    /// Attaches a generated probe to `point` and returns its events as an async sequence.
    ///
    /// ```swift
    /// for await event in try b.events(.syscall("openat"), filter: ProbeFilter(processName: "cat")) {
    ///     print(event.filename?.stringValue ?? "?")
    /// }
    /// ```
    ///
    /// - Parameters:
    ///   - point: Where: a tracepoint, a syscall, a kernel function (kprobe, fentry, fexit)
    ///     or a USDT probe.
    ///   - filter: Conditions checked in the kernel; failing events never reach user space.
    ///   - options: String sizes and the perf buffer's configuration.
    ///   - bufferingLimit: Events kept for a slow consumer; beyond it the newest are dropped
    ///     and counted in ``Probe/lostCount``.
    public func events(
        _ point: AttachPoint, filter: ProbeFilter = ProbeFilter(), options: ProbeOptions = .default,
        bufferingLimit: Int = 65_536
    ) throws(EBPFError) -> ProbeEvents {
        try session.events(point, filter: filter, options: options, bufferingLimit: bufferingLimit)
    }

    /// The program ``attach(_:filter:options:lost:handler:)`` would generate for `point` on
    /// this kernel, without compiling or attaching it: for the benchmarks, which run it in
    /// other consumers. Its perf table is `ebpf_events` and its function `ebpf_probe`.
    @_spi(Generator)
    public func program(
        for point: AttachPoint, filter: ProbeFilter = ProbeFilter(), options: ProbeOptions = .default
    ) throws(EBPFError) -> ProbeProgram {
        try session.program(for: point, filter: filter, options: options)
    }
}

extension Session {
    func events(
        _ point: AttachPoint, filter: ProbeFilter = ProbeFilter(), options: ProbeOptions = .default,
        bufferingLimit: Int = 65_536
    ) throws(EBPFError) -> ProbeEvents {
        let (stream, continuation) = AsyncStream.makeStream(
            of: ProbeEvent.self, bufferingPolicy: .bufferingOldest(max(1, bufferingLimit)))
        let drops = ConsumerDrops()
        let probe = try attachProbes(
            [point], filter: filter, options: options, lost: nil, drops: drops,
            delivery: .copied { event in
                if case .dropped = continuation.yield(event) { drops.count.add(1, ordering: .relaxed) }
            })[0]
        probe.setOnDetach { continuation.finish() }
        // Cancelled: the stream was dropped or its task cancelled, on the cooperative pool.
        continuation.onTermination = { termination in
            if case .cancelled = termination { probe.detachOffPool() }
        }
        if !probe.isAttached { continuation.finish() }
        return ProbeEvents(probe: probe, stream: stream)
    }

    func program(
        for point: AttachPoint, filter: ProbeFilter = ProbeFilter(), options: ProbeOptions = .default
    ) throws(EBPFError) -> ProbeProgram {
        let (resolved, format) = try resolve(point, reading: options.arguments)
        try checkStringsRead(options.arguments, by: [resolved])
        return try ProbeProgram(resolved: resolved, format: format, filter: filter, options: options)
    }

    /// Resolves every point, builds their programs as one, and attaches each: all of
    /// them, or none (what was attached before a failure is detached again).
    func attachProbes(
        _ points: [AttachPoint], filter: ProbeFilter, options: ProbeOptions,
        lost: (@Sendable (UInt64) -> Void)?, drops: ConsumerDrops, delivery: ProbeDelivery
    ) throws(EBPFError) -> [Probe] {
        try checkOpen()
        guard !points.isEmpty else { return [] }
        var resolved: [(program: ProbeProgram, format: TracepointFormat?)] = []
        for (index, point) in points.enumerated() {
            let (found, format) = try resolve(point, reading: options.arguments)
            let program = try ProbeProgram(
                resolved: found, format: format, filter: filter, options: options,
                member: points.count == 1 ? nil : index)
            resolved.append((program, format))
        }
        try checkStringsRead(options.arguments, by: resolved.map(\.program.resolved))
        let (built, routing, ringPages) = try buildModule(for: resolved.map(\.program), options: options)
        // What the ring took of the wrapper's budget, given back when its reader is released
        // (or here, when no buffer gets to own it).
        let ringBudget = EndAction()
        if let ringPages {
            ringBudget.set { [perfRingBudget] in perfRingBudget.release(pagesPerCPU: ringPages, cpus: 1) }
        }
        var bufferOpened = false
        defer { if !bufferOpened { ringBudget.run() } }
        let shared = SharedModule(built)
        // The compile's own hold: given back whatever happens, so the program is freed with
        // the probes if attaching fails halfway.
        defer { shared.release() }
        // Probes attached together share their filter.
        try CgroupFilterTable.fill(shared.module, for: resolved[0].program.filter)
        // The buffer opens before the attaches, so the first event already has a reader.
        let table = try shared.module.table(ProbeProgram.standaloneTableName)
        let layouts = resolved.map(\.program.layout)
        let events = resolved.map(\.program.eventName)
        let stackReader =
            options.stacks.isEmpty
            ? nil
            : try StackReader(module: shared.module, symbols: symbols, maxDepth: options.stacks.maxDepth)
        let naming = stackReader.map { StackNaming(reader: $0, offsets: resolved.map(\.program.stackOffsets)) }
        let openBuffer = { @Sendable [self] () throws(EBPFError) -> SharedProbeBuffer in
            try SharedProbeBuffer(
                table: table, module: shared.module, layouts: layouts, events: events, options: options.perfBuffer,
                wrapper: self, lost: lost, stacks: naming, delivery: delivery, ringBudget: ringBudget)
        }
        let buffer: SharedProbeBuffer
        if points.count == 1 {
            buffer = try openBuffer()
        } else {
            // Many probes' programs are verified while a second thread opens the rings (the
            // kernel allocates and zeroes them page by page): with 40 probes on a 2-CPU
            // machine, 16 MiB of rings and 40 verifications overlap, and the last probe
            // attaches about 4 ms (a tenth of the start) sooner.
            let programs = resolved.map(\.program)
            let (loaded, opened) = concurrently(
                {
                    Result { () throws(EBPFError) in
                        for (index, program) in programs.enumerated() {
                            let routed = routing?.routes[index] != nil
                            try shared.module.preload(
                                program.functionName, type: routed ? .rawTracepoint : program.programType)
                        }
                    }
                }, alongside: { Result { () throws(EBPFError) in try openBuffer() } })
            buffer = try opened.get()
            do throws(EBPFError) { try loaded.get() } catch {
                buffer.close()
                throw error
            }
        }
        bufferOpened = true
        var probes: [Probe] = []
        do throws(EBPFError) {
            var dispatchers = SyscallDispatchers(module: shared.module)
            for (index, (point, (program, format))) in zip(points, resolved).enumerated() {
                let attachment: Attachment
                if let route = routing?.routes[index] {
                    attachment = try dispatchers.attach(program, at: route)
                } else {
                    attachment = try attach(program, format: format, module: shared.module)
                }
                probes.append(
                    try track(
                        Probe(
                            point: point, program: program, format: format, module: shared,
                            attachment: attachment, buffer: buffer, drops: drops, stacks: stackReader)))
            }
        } catch {
            probes.forEach { $0.detach() }
            buffer.close()
            throw error
        }
        return probes
    }

    /// The programs as one: emitted when they all can be (the syscall probes among them
    /// routed, see ``SyscallRouting``; their records built in a ring buffer as
    /// `options.transport` says), compiled from their C otherwise.
    ///
    /// - Throws: ``EBPFError/Code/notSupported`` for ``EventTransport/ringBuffer`` where the
    ///   programs are compiled or the kernel has no ring buffers.
    private func buildModule(
        for programs: [ProbeProgram], options: ProbeOptions
    ) throws(EBPFError) -> (BPFModule, SyscallRouting?, ringPages: Int?) {
        let ring = options.transport != .perfBuffer && KernelFeatures.supportsRingBuffers
        if options.transport == .ringBuffer, !KernelFeatures.supportsRingBuffers {
            throw EBPFError(
                .notSupported, "this kernel has no BPF ring buffers (Linux 5.8+): use .perfBuffer or .automatic")
        }
        if probeBuilder == .emitter {
            let routing = SyscallRouting.plan(for: programs)
            let cpus = (try? SystemFiles.onlineCPUs().count) ?? 1
            var ringBytes: Int? = nil
            var ringPages: Int? = nil
            if ring {
                let wanted = EventTransport.ringBytes(
                    recordSize: programs.map(\.recordSize).max() ?? 0, cpus: cpus,
                    pageCount: options.perfBuffer.pageCount)
                if options.perfBuffer.pageCount == nil {
                    // Within the wrapper's budget for automatically sized buffers, as perf rings.
                    let pages = perfRingBudget.reserve(wantedPages: wanted / 4096, cpus: 1)
                    ringPages = pages
                    ringBytes = pages * 4096
                } else {
                    ringBytes = wanted
                }
            }
            if let object = ProbeEmitter.object(for: programs, routing: routing, ringBytes: ringBytes) {
                do throws(EBPFError) {
                    return (try BPFModule(emitted: object), routing, ringPages)
                } catch {
                    if let ringPages { perfRingBudget.release(pagesPerCPU: ringPages, cpus: 1) }
                    throw error
                }
            }
            if let ringPages { perfRingBudget.release(pagesPerCPU: ringPages, cpus: 1) }
        }
        if options.transport == .ringBuffer {
            throw EBPFError(
                .notSupported,
                "the ring buffer transport is for emitted probes (tracepoints and syscalls); these are compiled: use .perfBuffer or .automatic"
            )
        }
        let text = programs.count == 1 ? programs[0].text : ProbeProgram.combinedText(of: programs)
        return (try BPFModule(text: text, cflags: [], cache: compileCache), nil, nil)
    }

    /// Attaches `program`'s function to its event; a tracepoint by the id in `format`.
    private func attach(
        _ program: ProbeProgram, format: TracepointFormat?, module: BPFModule
    ) throws(EBPFError) -> Attachment {
        try attachment(program.functionName, at: program.resolved, tracepointID: format?.id, module: module)
    }

    /// Attaches the function `function` of `module` at `resolved`: a generated program's
    /// attach, shared by closure probes and aggregations.
    func attachment(
        _ function: String, at resolved: ResolvedPoint, tracepointID: Int?, module: BPFModule
    ) throws(EBPFError) -> Attachment {
        var usdtProbe: USDTProbe? = nil
        var userSites: UserFunctionSites? = nil
        switch resolved.arguments {
        case .usdt(let probe, _): usdtProbe = probe
        case .userRegisters(let sites, _): userSites = sites
        case .tracepointRecord, .syscallRegisters, .functionRegisters, .trampoline, .kernelReturn, .sample: break
        }
        return try attachment(
            function, at: resolved.point, module: module, tracepointID: tracepointID, usdtProbe: usdtProbe,
            userSites: userSites)
    }
}
