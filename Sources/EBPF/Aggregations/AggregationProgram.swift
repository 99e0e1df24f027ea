import EBPFKernel
import EBPFProgram

/// The BPF C program generated for an aggregation: on each event that passes the filter it
/// finds the event's key in a per-CPU hash table and adds one to the key's count and, when
/// a field is aggregated, the field's value to its sum, min and max; for a histogram, it
/// adds one to the key's slot for the value (or for the latency since the syscall's entry)
/// and the value to the slot's sum.
/// Nothing is sent to user space per event; the table is read when asked. There are two
/// tables, and a switch says which one programs fill, so an interval's table is read and
/// emptied while no program writes to it (``Aggregation/take()``).
///
/// A plain value, built without a kernel from a ``TracepointFormat``, so it can be read and
/// unit-tested. Field values are taken as signed 64-bit integers, as bpftrace's `sum`,
/// `min` and `max` take them.
@_spi(Generator) public struct AggregationProgram: Sendable {
    /// The C text handed to libbcc.
    public let text: String
    /// What the events are called: `syscalls:sys_enter_openat`.
    public let eventName: String
    /// What the events are grouped by; nil for one total.
    public let key: AggregationKey?
    /// The integer field whose sum, min and max (or histogram) are kept; nil when only
    /// counting, and for a latency.
    public let field: String?
    let resolved: ResolvedPoint
    let measure: Measure
    let keyShape: KeyShape
    /// What ``AggregationEmitter`` needs to build the program without clang; nil for one
    /// that only clang builds (registers, USDT arguments, trampolines, stack keys).
    let emission: Emission?
    /// The filter, its cgroup looked up.
    let filter: ProbeFilter

    /// The function that runs on each event (for a latency, at the syscall's exit).
    public static let functionName = "ebpf_aggregate_probe"
    /// For a latency, the function that notes when the syscall was entered, by thread.
    public static let entryFunctionName = "ebpf_latency_entry"
    /// For a latency, the hash of entry times by thread id.
    public static let startTableName = "ebpf_latency_start"
    /// For a latency, each thread's calls in progress, by thread id.
    static let depthTableName = "ebpf_latency_depth"
    /// The two per-CPU hash tables of statistics by key (``generationTableName`` says which
    /// one programs fill): one fills while the other is read and emptied.
    public static let tableNames = ["ebpf_aggregate_0", "ebpf_aggregate_1"]
    /// A one-element array: the index in ``tableNames`` of the table programs fill.
    public static let generationTableName = "ebpf_aggregate_generation"
    /// The per-CPU count of events not aggregated because the table was full.
    public static let droppedTableName = "ebpf_aggregate_dropped"
    /// One CPU's statistics: count (u64), sum, min and max (s64).
    static let statisticsSize = 32
    /// One CPU's histogram slot: count (u64) and the sum of its values (s64).
    static let slotSize = 16

    /// How the key's bytes read back.
    enum KeyShape: Sendable, Hashable {
        /// One total: a u64 zero.
        case total
        case signed, unsigned, pointer
        /// A NUL-terminated string in `capacity` bytes.
        case text(capacity: Int)
        /// The process id, its user and kernel stack ids and the thread's name
        /// (``stackMembers``): read back as the frames of one stack, innermost first, or as
        /// a folded stack (the name, then the user and the kernel frames, outermost first).
        case stack(user: Bool, kernel: Bool, folded: Bool)

        /// The members of a stack key, after a histogram's slot.
        static let stackMembers = "u32 pid; s32 ustack; s32 kstack; char comm[16];"

        var recordsStacks: Bool {
            if case .stack = self { return true }
            return false
        }

        func decode(_ bytes: [UInt8], stacks: StackReader? = nil) -> FieldValue? {
            let word = Aggregation.word(bytes, at: 0)
            switch self {
            case .stack(let user, let kernel, let folded):
                guard let stacks, bytes.count >= 28 else { return .array([]) }
                let (pid, ustack, kstack) = bytes.withUnsafeBytes {
                    (
                        $0.loadUnaligned(fromByteOffset: 0, as: Int32.self),
                        $0.loadUnaligned(fromByteOffset: 4, as: Int32.self),
                        $0.loadUnaligned(fromByteOffset: 8, as: Int32.self)
                    )
                }
                let userFrames = user ? stacks.frames(id: ustack, pid: pid).map(\.function) : []
                let kernelFrames = kernel ? stacks.frames(id: kstack, pid: nil).map(\.function) : []
                guard folded else { return .array((user ? userFrames : kernelFrames).map(FieldValue.string)) }
                let name = bytes[12..<28].withUnsafeBytes { FieldLayout.cString($0) }
                // bcc's profile -f -a: kernel frames marked `_[k]`, so the two halves read apart.
                return .array(
                    ([name] + userFrames.reversed() + kernelFrames.reversed().map { $0 + "_[k]" }).map(
                        FieldValue.string))
            case .total: return nil
            case .signed: return .signed(Int64(bitPattern: word))
            case .unsigned: return .unsigned(word)
            case .pointer: return .pointer(word)
            case .text: return .string(bytes.withUnsafeBytes { FieldLayout.cString($0) })
            }
        }
    }

    /// What is kept of each key's events.
    enum Measure: Sendable, Hashable {
        /// How many.
        case count
        /// How many, and a field's sum, min and max.
        case statistics(field: String)
        /// How many fell into each bucket of a field's value.
        case histogram(field: String, buckets: HistogramBuckets)
        /// How many fell into each power-of-two range of nanoseconds from a syscall's entry
        /// to its exit on the same thread (the program's second function runs at the exit).
        case latency(exit: ResolvedPoint)

        var isHistogram: Bool {
            switch self {
            case .count, .statistics: return false
            case .histogram, .latency: return true
            }
        }

        /// A histogram's buckets (a latency's are powers of two).
        var buckets: HistogramBuckets? {
            switch self {
            case .count, .statistics: return nil
            case .histogram(_, let buckets): return buckets
            case .latency: return .log2
            }
        }
    }

    /// The program for a tracepoint, whose fields are read from its record as `format`
    /// describes it. No kernel is needed to build it.
    ///
    /// - Throws: ``EBPFError/Code/invalidArgument`` for a bad filter or options, a field the
    ///   event lacks, or one that cannot serve (a key must be an integer or a string; the
    ///   aggregated field an integer).
    public init(
        tracepoint format: TracepointFormat, by key: AggregationKey? = nil, field: String? = nil,
        filter: ProbeFilter = ProbeFilter(), options: AggregationOptions = .default
    ) throws(EBPFError) {
        try NameValidation.tracepointComponent(format.category, what: "tracepoint category")
        try NameValidation.tracepointComponent(format.name, what: "tracepoint name")
        try self.init(
            resolved: .tracepoint(category: format.category, name: format.name), format: format, key: key,
            measure: field.map { .statistics(field: $0) } ?? .count, filter: filter, options: options)
    }

    init(
        resolved: ResolvedPoint, format: TracepointFormat?, key: AggregationKey?, measure: Measure,
        filter: ProbeFilter, options: AggregationOptions
    ) throws(EBPFError) {
        let filter = try filter.resolved()
        self.filter = filter
        try options.validate()
        try measure.buckets?.validate()
        try resolved.validate()
        let event = EventFields(resolved: resolved, format: format)
        self.resolved = resolved
        self.key = key
        self.measure = measure
        eventName = event.name
        if case .latency = measure, case .field(let name) = key?.kind {
            throw EBPFError(
                .invalidArgument,
                "a latency is measured at the return, where the arguments are gone, so field '\(name)' cannot be its key; use processName, processID, threadID, userID, cpu or cgroup"
            )
        }

        let exitPoint: ResolvedPoint? = if case .latency(let exit) = measure { exit } else { nil }
        let isHistogram = measure.isHistogram
        let (keyShape, keyFill, keyRead) = try Self.key(key, of: event, options: options)
        self.keyShape = keyShape
        var valueLines: [String] = []
        // Emitted where every read is of a tracepoint's record (a latency's exit reads none).
        var emittable =
            resolved.arguments == .tracepointRecord && exitPoint.map { $0.arguments == .tracepointRecord } ?? true
        var valueRead: ValueRead? = nil
        switch measure {
        case .count:
            field = nil
        case .statistics(let name), .histogram(let name, _):
            field = name
            let operand = try event.operand(named: name, for: "aggregated field")
            guard let integer = operand.integer, !integer.isPointer else {
                throw EBPFError(
                    .invalidArgument,
                    "field '\(name)' of \(event.name) is \(operand.typeDescription): only an integer field has a sum, min and max, or a histogram"
                )
            }
            valueLines = ["s64 ebpf_value = (s64)\(integer.expression);"]
            if let value = integer.recordValue {
                valueRead = ValueRead(value: value, signed: integer.isSigned)
            } else {
                emittable = false
            }
        case .latency:
            // Each thread's calls in progress are kept by depth, so under recursion every
            // return is timed from its own entry; a return whose entry was not seen (a call
            // in progress at the attach) finds depth 0 and counts nothing.
            field = nil
            // (A return the kernel does not report, past 64 nested uprobe returns or when a
            // kretprobe's instances run out, leaves the thread's calls one deeper, and its
            // later returns timed from deeper entries: raise `maxActive` for kretprobes.)
            valueLines = [
                "u32 ebpf_tid = ebpf_id;", "u32 *ebpf_depth = \(Self.depthTableName).lookup(&ebpf_tid);",
                "if (!ebpf_depth || *ebpf_depth == 0) return 0;", "*ebpf_depth -= 1;",
                "u64 ebpf_call = ((u64)ebpf_tid << 32) | *ebpf_depth;",
                "u64 *ebpf_start = \(Self.startTableName).lookup(&ebpf_call);", "if (!ebpf_start) return 0;",
                "s64 ebpf_value = bpf_ktime_get_ns() - *ebpf_start;", "\(Self.startTableName).delete(&ebpf_call);",
                "if (*ebpf_depth == 0) \(Self.depthTableName).delete(&ebpf_tid);",
            ]
        }

        var lines: [String] = resolved.includes
        let slot = isHistogram ? "u64 slot; " : ""
        switch keyShape {
        case .text(let capacity): lines.append("struct ebpf_key { \(slot)char text[\(capacity)]; };")
        case .stack: lines.append("struct ebpf_key { \(slot)\(KeyShape.stackMembers) };")
        default: lines.append("struct ebpf_key { \(slot)u64 value; };")
        }
        let valueType = isHistogram ? "struct ebpf_slot" : "struct ebpf_statistics"
        if isHistogram {
            lines.append("struct ebpf_slot { u64 count; s64 sum; };")
            lines.append("_Static_assert(sizeof(struct ebpf_slot) == \(Self.slotSize), \"slot size\");")
        } else {
            lines.append("struct ebpf_statistics { u64 count; s64 sum; s64 min; s64 max; };")
            lines.append(
                "_Static_assert(sizeof(struct ebpf_statistics) == \(Self.statisticsSize), \"statistics size\");")
        }
        if keyShape.recordsStacks { lines += StackTable.declarations(depth: StackCapture.maximumDepth) }
        for table in Self.tableNames {
            // BPF_TABLE rather than BPF_PERCPU_HASH, which libbcc has only from 0.19.
            lines.append("BPF_TABLE(\"percpu_hash\", struct ebpf_key, \(valueType), \(table), \(options.maxKeys));")
        }
        lines.append("BPF_ARRAY(\(Self.generationTableName), u32, 1);")
        if filter.cgroupTest?.descendants == true { lines.append(CgroupFilterTable.declaration) }
        lines.append("BPF_PERCPU_ARRAY(\(Self.droppedTableName), u64, 1);")
        if case .latency = measure {
            lines.append("BPF_HASH(\(Self.startTableName), u64, u64, \(options.maxKeys));")
            lines.append("BPF_HASH(\(Self.depthTableName), u32, u32, \(options.maxKeys));")
            lines.append("")
            lines.append(
                "int \(resolved.requiredFunctionName ?? Self.entryFunctionName)(\(resolved.contextDeclaration)) {")
            lines += ProbeProgram.prologue(filter: filter, resolved: resolved, readsName: false)
            lines.append("    u32 ebpf_tid = ebpf_id;")
            lines.append("    u32 ebpf_none = 0;")
            lines.append("    u32 *ebpf_depth = \(Self.depthTableName).lookup_or_try_init(&ebpf_tid, &ebpf_none);")
            lines.append("    if (!ebpf_depth) return 0;")
            lines.append("    u64 ebpf_call = ((u64)ebpf_tid << 32) | *ebpf_depth;")
            lines.append("    u64 ebpf_now = bpf_ktime_get_ns();")
            // One deeper even when the start cannot be kept (a full table): that call's return
            // then finds no start and counts nothing, and the calls around it keep theirs.
            lines.append("    \(Self.startTableName).update(&ebpf_call, &ebpf_now);")
            lines.append("    *ebpf_depth += 1;")
            lines.append("    return 0;")
            lines.append("}")
        }
        lines.append("")
        let function = exitPoint?.requiredFunctionName ?? resolved.requiredFunctionName ?? Self.functionName
        let context = (exitPoint ?? resolved).contextDeclaration
        lines.append("int \(function)(\(context)) {")
        let readsName = key?.kind == .processName || key?.kind == .foldedStack
        if case .latency = measure {
            // The entry's filter chose the threads; the exit needs only the ids.
            lines += ProbeProgram.prologue(filter: ProbeFilter(), resolved: exitPoint ?? resolved, readsName: readsName)
        } else {
            lines += ProbeProgram.prologue(filter: filter, resolved: resolved, readsName: readsName)
        }
        lines += valueLines.map { "    " + $0 }
        lines.append("    struct ebpf_key ebpf_key;")
        lines.append("    __builtin_memset(&ebpf_key, 0, sizeof(ebpf_key));")
        lines += keyFill.map { "    " + $0 }
        if let buckets = measure.buckets {
            lines.append("    ebpf_key.slot = \(buckets.slotExpression("ebpf_value"));")
        }
        lines.append("    int ebpf_zero = 0;")
        lines.append("    u32 *ebpf_generation = \(Self.generationTableName).lookup(&ebpf_zero);")
        lines.append("    \(valueType) ebpf_initial = {};")
        lines.append("    \(valueType) *ebpf_s = (ebpf_generation && *ebpf_generation)")
        lines.append("        ? \(Self.tableNames[1]).lookup_or_try_init(&ebpf_key, &ebpf_initial)")
        lines.append("        : \(Self.tableNames[0]).lookup_or_try_init(&ebpf_key, &ebpf_initial);")
        lines.append("    if (!ebpf_s) {")
        lines.append("        u64 *ebpf_dropped = \(Self.droppedTableName).lookup(&ebpf_zero);")
        lines.append("        if (ebpf_dropped) *ebpf_dropped += 1;")
        lines.append("        return 0;")
        lines.append("    }")
        if isHistogram {
            lines.append("    ebpf_s->count += 1;")
            lines.append("    ebpf_s->sum += ebpf_value;")
        } else {
            if field != nil {
                lines.append("    if (ebpf_s->count == 0 || ebpf_value < ebpf_s->min) ebpf_s->min = ebpf_value;")
                lines.append("    if (ebpf_s->count == 0 || ebpf_value > ebpf_s->max) ebpf_s->max = ebpf_value;")
                lines.append("    ebpf_s->sum += ebpf_value;")
            }
            lines.append("    ebpf_s->count += 1;")
        }
        lines.append("    return 0;")
        lines.append("}")
        text = lines.joined(separator: "\n") + "\n"
        emission =
            emittable
            ? keyRead.map { Emission(filter: filter, key: $0, value: valueRead, maxKeys: options.maxKeys) } : nil
    }

    /// Whether each key keeps a histogram (of a field, or of latencies) rather than a count,
    /// sum, min and max.
    public var isHistogram: Bool { measure.isHistogram }

    /// A histogram's buckets; nil when counting.
    public var buckets: HistogramBuckets? { measure.buckets }

    /// What a histogram's values are, for its header: the field, or `nsecs`.
    var histogramValueName: String {
        if case .latency = measure { return "nsecs" }
        return field ?? "value"
    }

    /// The key's C: its shape and the statements that fill `ebpf_key`, and what the emitter
    /// reads instead (nil when only clang builds it).
    private static func key(_ key: AggregationKey?, of event: EventFields, options: AggregationOptions)
        throws(EBPFError) -> (KeyShape, [String], KeyRead?)
    {
        switch key?.kind {
        case nil: return (.total, [], .total)
        case .processName:
            return (.text(capacity: 16), ["__builtin_memcpy(&ebpf_key.text, ebpf_comm, 16);"], .processName)
        case .processID: return (.signed, ["ebpf_key.value = ebpf_id >> 32;"], .processID)
        case .stack(let user):
            return (
                .stack(user: user, kernel: !user, folded: false),
                // A user stack is named in its process; a kernel stack is the same in every one.
                [
                    user ? "ebpf_key.pid = ebpf_id >> 32;" : "ebpf_key.pid = 0;", "ebpf_key.ustack = -1;",
                    "ebpf_key.kstack = -1;",
                ]
                    + StackTable.record(into: user ? "ebpf_key.ustack" : "ebpf_key.kstack", user: user), nil
            )
        case .foldedStack:
            return (
                .stack(user: true, kernel: true, folded: true),
                // The idle task (pid 0) is left out, as bcc's profile leaves it out.
                [
                    "if ((ebpf_id >> 32) == 0) return 0;", "ebpf_key.pid = ebpf_id >> 32;",
                    "__builtin_memcpy(&ebpf_key.comm, ebpf_comm, 16);",
                ]
                    + StackTable.record(into: "ebpf_key.ustack", user: true)
                    + StackTable.record(into: "ebpf_key.kstack", user: false), nil
            )
        case .threadID: return (.signed, ["ebpf_key.value = (u32)ebpf_id;"], .threadID)
        case .userID: return (.unsigned, ["ebpf_key.value = (u32)ebpf_ugid;"], .userID)
        case .cpu: return (.unsigned, ["ebpf_key.value = bpf_get_smp_processor_id();"], .cpu)
        case .cgroup: return (.unsigned, ["ebpf_key.value = bpf_get_current_cgroup_id();"], .cgroup)
        case .field(let name):
            let operand = try event.operand(named: name, for: "key")
            // A `char *` is a string before it is a pointer.
            if let text = operand.text(capacity: options.stringSize) {
                return (
                    .text(capacity: text.capacity), [text.fill("ebpf_key.text")],
                    text.source.map { .text(capacity: text.capacity, $0) }
                )
            }
            if let integer = operand.integer {
                return (
                    integer.isPointer ? .pointer : integer.isSigned ? .signed : .unsigned,
                    ["ebpf_key.value = (u64)(s64)\(integer.expression);"],
                    integer.recordValue.map { .integer($0, signed: integer.isSigned) }
                )
            }
            throw EBPFError(
                .invalidArgument,
                "field '\(name)' of \(event.name) is \(operand.typeDescription): a key must be an integer or a string"
            )
        }
    }

    /// Where the program attaches on this kernel (for a latency, its entry).
    public var attachPoint: AttachPoint { resolved.point }
}
