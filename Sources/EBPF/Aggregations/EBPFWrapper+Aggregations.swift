import EBPFKernel
import EBPFProgram

extension EBPFWrapper {
    /// Counts `point`'s events in the kernel, by `key` (one total when nil): no event
    /// reaches user space; the counts are read from the handle.
    ///
    /// ```swift
    /// let opens = try b.count(.syscall("openat"), by: .processName)
    /// // bcc: BPF_HASH(counts, struct key_t); ... counts.increment(key);
    /// ```
    ///
    /// - Parameters:
    ///   - point: A tracepoint, a syscall, a kernel function (kprobe, fentry, fexit) or a USDT
    ///     probe: the kinds the library generates programs for.
    ///   - key: What to count by: the process name or id, the thread, user or CPU, or a
    ///     field of the event.
    ///   - filter: Conditions checked in the kernel; failing events are not counted.
    ///   - options: The table's capacity and the size of string keys.
    /// - Throws: ``EBPFError/Code/notFound`` for an unknown event or field,
    ///   ``EBPFError/Code/invalidArgument`` for a field that cannot be a key, and the errors
    ///   of compiling and attaching a program.
    public func count(
        _ point: AttachPoint, by key: AggregationKey? = nil, filter: ProbeFilter = ProbeFilter(),
        options: AggregationOptions = .default
    ) throws(EBPFError) -> Aggregation {
        try aggregation(point, key: key, measure: .count, filter: filter, options: options)
    }

    /// Counts `point`'s events and keeps the sum, minimum and maximum of the integer
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
        _ point: AttachPoint, field: String, by key: AggregationKey? = nil, filter: ProbeFilter = ProbeFilter(),
        options: AggregationOptions = .default
    ) throws(EBPFError) -> Aggregation {
        try aggregation(point, key: key, measure: .statistics(field: field), filter: filter, options: options)
    }

    /// Keeps a histogram of the integer `field` (`read`'s `count`; `ret` of a
    /// `.syscallExit` for return values), by `key`, in the kernel: how many values fell into
    /// each power-of-two range, as bcc's `dist.increment(bpf_log2l(value))` and bpftrace's
    /// `hist()`, or into each of `.linear` buckets, as bpftrace's `lhist()`.
    ///
    /// ```swift
    /// let sizes = try b.histogram(.syscall("read"), of: "count")
    /// let returns = try b.histogram(.syscallExit("read"), of: "ret", by: .processName)
    /// let small = try b.histogram(.syscall("read"), of: "count", buckets: .linear(min: 0, max: 1024, step: 128))
    /// print(try sizes.text())
    /// ```
    ///
    /// - Throws: as ``aggregate(_:field:by:filter:options:)``, and
    ///   ``EBPFError/Code/invalidArgument`` for linear buckets out of range.
    public func histogram(
        _ point: AttachPoint, of field: String, by key: AggregationKey? = nil, buckets: HistogramBuckets = .log2,
        filter: ProbeFilter = ProbeFilter(), options: AggregationOptions = .default
    ) throws(EBPFError) -> Aggregation {
        try aggregation(
            point, key: key, measure: .histogram(field: field, buckets: buckets), filter: filter, options: options)
    }

    /// Keeps a log2 histogram of the syscall's latency in nanoseconds, from its entry to its
    /// exit on the same thread (`sys_enter_<name>` to `sys_exit_<name>`), by `key`, in the
    /// kernel, as bcc's `funclatency` and bpftrace's `hist(nsecs - @start[tid])`. The filter
    /// applies at the entry.
    ///
    /// ```swift
    /// let reads = try b.latency(ofSyscall: "read", by: .processName)
    /// ```
    ///
    /// - Throws: ``EBPFError/Code/notFound`` for an unknown syscall,
    ///   ``EBPFError/Code/invalidArgument`` for a field as the key (the arguments are gone at
    ///   the exit), and the errors of compiling and attaching.
    public func latency(
        ofSyscall name: String, by key: AggregationKey? = nil, filter: ProbeFilter = ProbeFilter(),
        options: AggregationOptions = .default
    ) throws(EBPFError) -> Aggregation {
        let (exit, _) = try resolve(.syscallExit(name), reading: options.arguments)
        return try aggregation(
            .syscall(name), key: key, measure: .latency(exit: exit), filter: filter, options: options)
    }

    /// The program ``count(_:by:filter:options:)`` (`field` nil) or
    /// ``aggregate(_:field:by:filter:options:)`` would run for `point` on this kernel,
    /// without compiling it: to read its C.
    public func aggregationProgram(
        for point: AttachPoint, field: String? = nil, by key: AggregationKey? = nil,
        filter: ProbeFilter = ProbeFilter(), options: AggregationOptions = .default
    ) throws(EBPFError) -> AggregationProgram {
        let (resolved, format) = try resolve(point, reading: options.arguments)
        try checkStringsRead(options.arguments, by: [resolved])
        return try AggregationProgram(
            resolved: resolved, format: format, key: key, measure: field.map { .statistics(field: $0) } ?? .count,
            filter: filter, options: options)
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
        let module = try BPFModule(text: program.text, cflags: [], cache: compileCache)
        do throws(EBPFError) {
            let aggregation = try Aggregation(point: point, program: program, module: module) {
                () throws(EBPFError) -> [Attachment] in
                guard case .latency(let exit) = measure else {
                    return [
                        try attachment(
                            resolved.requiredFunctionName ?? AggregationProgram.functionName, at: resolved,
                            tracepointID: format?.id, module: module)
                    ]
                }
                // The exit first: an entry seen without its exit would only leave a start time.
                let exitAttachment = try attachment(
                    AggregationProgram.functionName, at: exit, tracepointID: nil, module: module)
                do throws(EBPFError) {
                    let entry = try attachment(
                        AggregationProgram.entryFunctionName, at: resolved, tracepointID: format?.id, module: module)
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
}
