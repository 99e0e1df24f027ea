import EBPFKernel
import EBPFProgram

extension EBPFWrapper {
    /// Aggregates `point`'s events in the kernel, by `key` (one total when nil), as
    /// bpftrace's `@[key] = count()`, `stats(field)` or `hist(field)`: no event reaches user
    /// space; the handle reads the values.
    ///
    /// ```swift
    /// let opens = try b.aggregate(.syscall("openat"), by: .processName)
    /// let reads = try b.aggregate(.syscall("read"), .statistics(of: "count"), by: .processName)
    /// let sizes = try b.aggregate(.syscall("read"), .histogram(of: "count"))
    /// let small = try b.aggregate(.syscall("read"), .histogram(of: "count", buckets: .linear(min: 0, max: 1024, step: 128)))
    /// let returns = try b.aggregate(.syscallExit("read"), .histogram(of: "ret"), by: .processName)
    /// let latency = try b.aggregate(.syscall("read"), .latency, by: .processName)
    /// for entry in try reads.snapshot() { print(entry.key ?? "-", entry.count, entry.sum ?? 0) }
    /// print(try sizes.text())
    /// ```
    ///
    /// - Parameters:
    ///   - point: A tracepoint, a syscall, a kernel function (kprobe, kretprobe, fentry,
    ///     fexit), a user function (uprobe, uretprobe) or a USDT probe: the kinds the library
    ///     generates programs for. For ``AggregationMeasure/latency``, an entry with a
    ///     ``AttachPoint/returnPoint``: a syscall, kprobe, fentry or uprobe.
    ///   - measure: What to keep of each key's events; by default how many there were.
    ///   - key: What to aggregate by: the process name or id, the thread, user or CPU, or a
    ///     field of the event (not for a latency: the arguments are gone at the exit).
    ///   - filter: Conditions checked in the kernel; failing events are not counted (for a
    ///     latency, checked at the entry).
    ///   - options: The table's capacity and the size of string keys.
    /// - Throws: ``EBPFError/Code/notFound`` for an unknown event or field,
    ///   ``EBPFError/Code/invalidArgument`` for a field that cannot be a key, a measured
    ///   field that is not an integer, linear buckets out of range, or a latency at a point
    ///   without a return, and the errors of compiling and attaching a program.
    public func aggregate(
        _ point: AttachPoint, _ measure: AggregationMeasure = .count, by key: AggregationKey? = nil,
        filter: ProbeFilter = ProbeFilter(), options: AggregationOptions = .default
    ) throws(EBPFError) -> Aggregation {
        try session.aggregate(point, measure, by: key, filter: filter, options: options)
    }
}

extension Session {
    func aggregate(
        _ point: AttachPoint, _ measure: AggregationMeasure, by key: AggregationKey?, filter: ProbeFilter,
        options: AggregationOptions
    ) throws(EBPFError) -> Aggregation {
        let kept: AggregationProgram.Measure
        switch measure {
        case .count: kept = .count
        case .statistics(let field): kept = .statistics(field: field)
        case .histogram(let field, let buckets): kept = .histogram(field: field, buckets: buckets)
        case .latency:
            guard let exit = point.returnPoint else {
                throw EBPFError(
                    .invalidArgument,
                    "a latency is measured from an entry to its return: aggregate a syscall, kprobe, fentry or uprobe (at no offset), not \(point)"
                )
            }
            kept = .latency(exit: try resolve(exit, reading: ArgumentReading()).0)
        }
        return try aggregation(point, key: key, measure: kept, filter: filter, options: options)
    }

    private func aggregation(
        _ point: AttachPoint, key: AggregationKey?, measure: AggregationProgram.Measure, filter: ProbeFilter,
        options: AggregationOptions
    ) throws(EBPFError) -> Aggregation {
        try checkOpen()
        let (resolved, format) = try resolve(point, reading: options.arguments)
        try checkStringsRead(options.arguments, by: [resolved])
        let program = try AggregationProgram(
            resolved: resolved, format: format, key: key, measure: measure, filter: filter, options: options)
        let (module, routing) = try buildModule(for: program)
        do throws(EBPFError) {
            try CgroupFilterTable.fill(module, for: program.filter)
            let aggregation = try Aggregation(point: point, program: program, module: module, symbols: symbols) {
                () throws(EBPFError) -> [Attachment] in
                var dispatchers = SyscallDispatchers(module: module)
                /// Function `name` at the point of `routedPoints[index]`: routed, or attached there.
                func attach(_ name: String, _ index: Int, tracepointID: Int?) throws(EBPFError) -> Attachment {
                    let point = program.routedPoints[index].point
                    if let route = routing?.routes[index] {
                        return try dispatchers.attach(name, at: point.point, route: route)
                    }
                    return try attachment(name, at: point, tracepointID: tracepointID, module: module)
                }
                guard case .latency(let exit) = measure else {
                    return [
                        try attach(
                            resolved.requiredFunctionName ?? AggregationProgram.functionName, 0,
                            tracepointID: format?.id)
                    ]
                }
                // The exit first: an entry seen without its exit would only leave a start time.
                let exitAttachment = try attach(
                    exit.requiredFunctionName ?? AggregationProgram.functionName, 0, tracepointID: nil)
                do throws(EBPFError) {
                    let entry = try attach(
                        resolved.requiredFunctionName ?? AggregationProgram.entryFunctionName, 1,
                        tracepointID: format?.id)
                    return [entry, exitAttachment]
                } catch {
                    exitAttachment.detach()
                    throw error
                }
            }
            return try track(aggregation)
        } catch {
            module.close()
            throw error
        }
    }

    /// The aggregation's program: emitted when it can be (its syscall tracepoints routed,
    /// see ``SyscallRouting``), compiled from its C otherwise.
    private func buildModule(for program: AggregationProgram) throws(EBPFError) -> (BPFModule, SyscallRouting?) {
        if probeBuilder == .emitter {
            let routing = SyscallRouting.plan(for: program.routedPoints)
            if let object = AggregationEmitter.object(for: program, routing: routing) {
                return (try BPFModule(emitted: object), routing)
            }
        }
        return (try BPFModule(text: program.text, cflags: [], cache: compileCache), nil)
    }
}
