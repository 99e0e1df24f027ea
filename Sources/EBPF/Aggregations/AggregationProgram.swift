/// The BPF C program generated for an aggregation: on each event that passes the filter it
/// finds the event's key in a per-CPU hash table and adds one to the key's count and, when
/// a field is aggregated, the field's value to its sum, min and max. Nothing is sent to user
/// space per event; the table is read when asked. There are two tables, and a switch says
/// which one programs fill, so an interval's table is read and emptied while no program
/// writes to it (``Aggregation/take()``).
///
/// A plain value, built without a kernel from a ``TracepointFormat``, so it can be read and
/// unit-tested. Field values are taken as signed 64-bit integers, as bpftrace's `sum`,
/// `min` and `max` take them.
public struct AggregationProgram: Sendable {
    /// The C text handed to libbcc.
    public let text: String
    /// What the events are called: `syscalls:sys_enter_openat`.
    public let eventName: String
    /// What the events are grouped by; nil for one total.
    public let key: AggregationKey?
    /// The numeric field whose sum, min and max are kept; nil when only counting.
    public let field: String?
    let mechanism: ProbeProgram.Mechanism
    let keyShape: KeyShape

    /// The function that runs on each event.
    public static let functionName = "ebpf_aggregate_probe"
    /// The two per-CPU hash tables of statistics by key (``generationTableName`` says which
    /// one programs fill): one fills while the other is read and emptied.
    public static let tableNames = ["ebpf_aggregate_0", "ebpf_aggregate_1"]
    /// A one-element array: the index in ``tableNames`` of the table programs fill.
    public static let generationTableName = "ebpf_aggregate_generation"
    /// The per-CPU count of events not aggregated because the table was full.
    public static let droppedTableName = "ebpf_aggregate_dropped"
    /// One CPU's statistics: count (u64), sum, min and max (s64).
    static let statisticsSize = 32

    /// How the key's bytes read back.
    enum KeyShape: Sendable, Hashable {
        /// One total: a u64 zero.
        case total
        case signed, unsigned, pointer
        /// A NUL-terminated string in `capacity` bytes.
        case text(capacity: Int)

        var size: Int {
            if case .text(let capacity) = self { return capacity }
            return 8
        }

        func decode(_ bytes: [UInt8]) -> FieldValue? {
            let word = bytes.count >= 8 ? bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) } : 0
            switch self {
            case .total: return nil
            case .signed: return .signed(Int64(bitPattern: word))
            case .unsigned: return .unsigned(word)
            case .pointer: return .pointer(word)
            case .text: return .string(bytes.withUnsafeBytes { FieldLayout.cString($0) })
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
            mechanism: .tracepoint(category: format.category, name: format.name), format: format, key: key,
            field: field, filter: filter, options: options)
    }

    init(
        mechanism: ProbeProgram.Mechanism, format: TracepointFormat?, key: AggregationKey?, field: String?,
        filter: ProbeFilter, options: AggregationOptions
    ) throws(EBPFError) {
        try filter.validate()
        try options.validate()
        let event = EventFields(mechanism: mechanism, format: format)
        self.mechanism = mechanism
        self.key = key
        self.field = field
        eventName = event.name

        var keyFill: [String] = []
        switch key?.kind {
        case nil:
            keyShape = .total
        case .processName:
            keyShape = .text(capacity: 16)
            keyFill = ["__builtin_memcpy(&ebpf_key.text, ebpf_comm, 16);"]
        case .processID:
            keyShape = .signed
            keyFill = ["ebpf_key.value = ebpf_id >> 32;"]
        case .threadID:
            keyShape = .signed
            keyFill = ["ebpf_key.value = (u32)ebpf_id;"]
        case .userID:
            keyShape = .unsigned
            keyFill = ["ebpf_key.value = (u32)ebpf_ugid;"]
        case .cpu:
            keyShape = .unsigned
            keyFill = ["ebpf_key.value = bpf_get_smp_processor_id();"]
        case .field(let name):
            let operand = try event.operand(named: name, for: "key")
            // A `char *` is a string before it is a pointer.
            if let text = operand.text(capacity: options.stringSize) {
                keyShape = .text(capacity: text.capacity)
                keyFill = [text.fill("ebpf_key.text")]
            } else if let integer = operand.integer {
                keyShape = integer.isPointer ? .pointer : integer.isSigned ? .signed : .unsigned
                keyFill = ["ebpf_key.value = (u64)(s64)\(integer.expression);"]
            } else {
                throw EBPFError(
                    .invalidArgument,
                    "field '\(name)' of \(event.name) is \(operand.typeDescription): a key must be an integer or a string"
                )
            }
        }

        var valueLines: [String] = []
        if let field {
            let operand = try event.operand(named: field, for: "aggregated field")
            guard let integer = operand.integer, !integer.isPointer else {
                throw EBPFError(
                    .invalidArgument,
                    "field '\(field)' of \(event.name) is \(operand.typeDescription): only an integer field has a sum, min and max"
                )
            }
            valueLines = ["s64 ebpf_value = (s64)\(integer.expression);"]
        }

        var lines: [String] = event.includes
        switch keyShape {
        case .text(let capacity): lines.append("struct ebpf_key { char text[\(capacity)]; };")
        default: lines.append("struct ebpf_key { u64 value; };")
        }
        lines.append("struct ebpf_statistics { u64 count; s64 sum; s64 min; s64 max; };")
        lines.append("_Static_assert(sizeof(struct ebpf_statistics) == \(Self.statisticsSize), \"statistics size\");")
        for table in Self.tableNames {
            lines.append("BPF_PERCPU_HASH(\(table), struct ebpf_key, struct ebpf_statistics, \(options.maxKeys));")
        }
        lines.append("BPF_ARRAY(\(Self.generationTableName), u32, 1);")
        lines.append("BPF_PERCPU_ARRAY(\(Self.droppedTableName), u64, 1);")
        lines.append("")
        lines.append("int \(Self.functionName)(\(event.contextDeclaration)) {")
        let readsName = key?.kind == .processName
        lines += ProbeProgram.prologue(filter: filter, mechanism: mechanism, readsName: readsName)
        lines.append("    struct ebpf_key ebpf_key;")
        lines.append("    __builtin_memset(&ebpf_key, 0, sizeof(ebpf_key));")
        lines += (keyFill + valueLines).map { "    " + $0 }
        lines.append("    int ebpf_zero = 0;")
        lines.append("    u32 *ebpf_generation = \(Self.generationTableName).lookup(&ebpf_zero);")
        lines.append("    struct ebpf_statistics ebpf_initial = {};")
        lines.append("    struct ebpf_statistics *ebpf_s = (ebpf_generation && *ebpf_generation)")
        lines.append("        ? \(Self.tableNames[1]).lookup_or_try_init(&ebpf_key, &ebpf_initial)")
        lines.append("        : \(Self.tableNames[0]).lookup_or_try_init(&ebpf_key, &ebpf_initial);")
        lines.append("    if (!ebpf_s) {")
        lines.append("        u64 *ebpf_dropped = \(Self.droppedTableName).lookup(&ebpf_zero);")
        lines.append("        if (ebpf_dropped) *ebpf_dropped += 1;")
        lines.append("        return 0;")
        lines.append("    }")
        if field != nil {
            lines.append("    if (ebpf_s->count == 0 || ebpf_value < ebpf_s->min) ebpf_s->min = ebpf_value;")
            lines.append("    if (ebpf_s->count == 0 || ebpf_value > ebpf_s->max) ebpf_s->max = ebpf_value;")
            lines.append("    ebpf_s->sum += ebpf_value;")
        }
        lines.append("    ebpf_s->count += 1;")
        lines.append("    return 0;")
        lines.append("}")
        text = lines.joined(separator: "\n") + "\n"
    }

    /// The tracepoint (`category:name`) or kernel function the program attaches to.
    public var attachPoint: String {
        switch mechanism {
        case .tracepoint(let category, let name): return "\(category):\(name)"
        case .syscallKprobe(let function, _), .functionKprobe(let function): return function
        }
    }

    var programType: ProgramType {
        if case .tracepoint = mechanism { return .tracepoint }
        return .kprobe
    }
}
