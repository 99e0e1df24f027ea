extension EBPFWrapper {
    /// Counts `target`'s events in the kernel, by `key` (one total when nil): no event
    /// reaches user space; the counts are read from the handle.
    ///
    /// ```swift
    /// let opens = try b.count(.syscall("openat"), by: .processName)
    /// // bcc: BPF_HASH(counts, struct key_t); ... counts.increment(key);
    /// ```
    ///
    /// - Parameters:
    ///   - target: A tracepoint, a syscall by name, or a kernel function (kprobe).
    ///   - key: What to count by: the process name or id, the thread, user or CPU, or a
    ///     field of the event.
    ///   - filter: Conditions checked in the kernel; failing events are not counted.
    ///   - options: The table's capacity and the size of string keys.
    /// - Throws: ``EBPFError/Code/notFound`` for an unknown event or field,
    ///   ``EBPFError/Code/invalidArgument`` for a field that cannot be a key, and the errors
    ///   of compiling and attaching a program.
    public func count(
        _ target: ProbeTarget, by key: AggregationKey? = nil, filter: ProbeFilter = ProbeFilter(),
        options: AggregationOptions = .default
    ) throws(EBPFError) -> Aggregation {
        try aggregation(target, key: key, field: nil, filter: filter, options: options)
    }

    /// Counts `target`'s events and keeps the sum, minimum and maximum of the integer
    /// `field` (`read`'s `count`), by `key`, in the kernel.
    ///
    /// ```swift
    /// let reads = try b.aggregate(.syscall("read"), field: "count", by: .processName)
    /// for entry in try reads.snapshot() { print(entry.key ?? "-", entry.count, entry.sum ?? 0) }
    /// ```
    ///
    /// - Throws: as ``count(_:by:filter:options:)``, and ``EBPFError/Code/invalidArgument``
    ///   when `field` is not an integer.
    public func aggregate(
        _ target: ProbeTarget, field: String, by key: AggregationKey? = nil, filter: ProbeFilter = ProbeFilter(),
        options: AggregationOptions = .default
    ) throws(EBPFError) -> Aggregation {
        try aggregation(target, key: key, field: field, filter: filter, options: options)
    }

    /// The program ``count(_:by:filter:options:)`` or
    /// ``aggregate(_:field:by:filter:options:)`` would run for `target` on this kernel,
    /// without compiling it: to read its C.
    public func aggregationProgram(
        for target: ProbeTarget, field: String? = nil, by key: AggregationKey? = nil,
        filter: ProbeFilter = ProbeFilter(), options: AggregationOptions = .default
    ) throws(EBPFError) -> AggregationProgram {
        let (mechanism, format) = try resolve(target)
        return try AggregationProgram(
            mechanism: mechanism, format: format, key: key, field: field, filter: filter, options: options)
    }

    private func aggregation(
        _ target: ProbeTarget, key: AggregationKey?, field: String?, filter: ProbeFilter,
        options: AggregationOptions
    ) throws(EBPFError) -> Aggregation {
        try checkOpen()
        let (mechanism, format) = try resolve(target)
        let program = try AggregationProgram(
            mechanism: mechanism, format: format, key: key, field: field, filter: filter, options: options)
        let module = try BPFModule(text: program.text, cflags: [], cache: compileCache)
        do throws(EBPFError) {
            let aggregation = try Aggregation(target: target, program: program, module: module) {
                () throws(EBPFError) -> Attachment in
                switch mechanism {
                case .tracepoint(let category, let name):
                    return try makeTracepointAttachment(
                        module: module, category: category, name: name, fnName: AggregationProgram.functionName,
                        id: format?.id)
                case .syscallKprobe(let function, _), .functionKprobe(let function):
                    return try makeKprobeAttachment(
                        module: module, event: function, fnName: AggregationProgram.functionName, isReturn: false)
                }
            }
            return try track(aggregation)
        } catch {
            module.close()
            throw error
        }
    }
}
