import EBPFKernel
import EBPFProgram

/// The BPF C program and record layout generated for one closure probe.
///
/// A plain value, built without a kernel from a ``TracepointFormat`` (or from a kernel
/// function's name), so it can be inspected and unit-tested. The record carries a fixed
/// header — timestamp, process and thread id, user and group id, cpu, process name — then
/// one member per event field, each sized from the format file. The C asserts every
/// member's offset at compile time, so the layout Swift decodes is the one clang built; for
/// tracepoints, the library writes the same program's instructions itself, without clang.
@_spi(Generator) public struct ProbeProgram: Sendable {
    /// The C text handed to libbcc: a whole program, compilable alone. Written when read:
    /// the library emits tracepoint probes' instructions itself, without C.
    public var text: String { Self.combinedText(of: [self]) }
    /// The text without its `#include` lines and perf table, to be joined with other probes'
    /// into one program (``combinedText(of:)``).
    var body: String { source.program(filter: filter, probeIndex: probeIndex) }
    /// The `#include` lines the body needs.
    var includes: [String] { source.includes }
    /// The members, statements and layout the C is written from.
    private let source: Builder
    /// The filter, its cgroup looked up.
    let filter: ProbeFilter
    /// The name of this program's BPF function: ``standaloneFunctionName`` for a probe
    /// compiled alone, `ebpf_probe_<n>` for the n-th of probes compiled together.
    public let functionName: String
    /// The name of this program's `BPF_PERF_OUTPUT` table: ``standaloneTableName``, alone
    /// or together (probes compiled together share one perf buffer).
    public let tableName: String
    /// The program's position among probes compiled together (0 alone): what its records
    /// carry in the header's `probe` member, so a shared buffer's reader knows whose they are.
    public let probeIndex: Int
    /// What the events are called: `syscalls:sys_enter_bind`, `kprobe:__x64_sys_bind`.
    public let eventName: String
    let resolved: ResolvedPoint
    /// The event's own fields (after the header), by name.
    let layout: RecordLayout
    /// What ``ProbeEmitter`` needs to build the program without clang; nil for a program
    /// only clang builds (kprobes, floating-point fields, stacks).
    let emission: Emission?
    /// The stacks each record carries the ids of.
    let stacks: StackCapture
    /// Where a record keeps its kernel and user stack ids (`s32`), when it does.
    let stackOffsets: (kernel: Int?, user: Int?)

    /// The name of the BPF function of a probe's program compiled alone (its ``text``).
    public static let standaloneFunctionName = "ebpf_probe"
    /// The name of the `BPF_PERF_OUTPUT` table of a probe's program compiled alone.
    public static let standaloneTableName = "ebpf_events"
    /// With the ring buffer transport, the per-CPU count of records the ring had no room for.
    static let lostTableName = "ebpf_lost"

    /// Where the program attaches on this kernel: a syscall as its tracepoint, a syscall's
    /// kprobe as the tracepoint it falls back to on a kernel without kprobes.
    public var attachPoint: AttachPoint { resolved.point }

    /// The size of one record in bytes.
    public var recordSize: Int { layout.size }

    /// Where each field lies in a record, header first: what a Swift struct decoding the
    /// record with `openPerfBuffer(as:)` must mirror. Members are named as in the C struct
    /// (`timestamp`, `pid`, …, `comm`, then `f_<field>`).
    public var recordFields: [RecordMember] {
        Self.headerFields.map { RecordMember(name: $0.name, offset: $0.offset, size: $0.size) }
            + layout.fields.map { RecordMember(name: "f_" + $0.name, offset: $0.offset, size: $0.size) }
    }

    var programType: ProgramType { resolved.programType }

    /// The fixed header's layout, the same in every probe's record.
    static var headerFields: [FieldLayout] { ProbeRecordHeader.members.map(\.layout) }

    /// The program for a tracepoint, whose fields are read from its record as `format`
    /// describes it. A plain value: no kernel is needed to build it (parse the format with
    /// ``TracepointFormat/init(category:name:parsing:)``).
    ///
    /// - Throws: ``EBPFError/Code/invalidArgument`` for a bad filter, options, or a format
    ///   whose category or name is not a plain name.
    public init(
        tracepoint format: TracepointFormat, filter: ProbeFilter = ProbeFilter(), options: ProbeOptions = .default
    ) throws(EBPFError) {
        try NameValidation.tracepointComponent(format.category, what: "tracepoint category")
        try NameValidation.tracepointComponent(format.name, what: "tracepoint name")
        try self.init(
            resolved: .tracepoint(category: format.category, name: format.name), format: format, filter: filter,
            options: options)
    }

    /// The program for a kprobe on a syscall's entry function (`__x64_sys_bind`), whose
    /// fields are the syscall's arguments named by its `sys_enter_` tracepoint's `format`.
    /// `wrapped`: the function takes one `struct pt_regs *` of the caller's registers, as
    /// x86-64's `__x64_sys_*` do since 4.17. No kernel is needed to build it.
    ///
    /// - Throws: ``EBPFError/Code/invalidArgument`` for a bad name, filter or options.
    public init(
        syscallFunction function: String, format: TracepointFormat, wrapped: Bool = true,
        filter: ProbeFilter = ProbeFilter(), options: ProbeOptions = .default
    ) throws(EBPFError) {
        try NameValidation.symbol(function, what: "kernel function name")
        try self.init(
            resolved: .syscallKprobe(function: function, wrapped: wrapped), format: format, filter: filter,
            options: options)
    }

    /// The program for a kprobe on any kernel function, whose events carry its first six
    /// arguments as `arg0`…`arg5`. No kernel is needed to build it.
    ///
    /// - Throws: ``EBPFError/Code/invalidArgument`` for a bad name, filter or options.
    public init(
        kernelFunction function: String, filter: ProbeFilter = ProbeFilter(), options: ProbeOptions = .default
    ) throws(EBPFError) {
        try NameValidation.symbol(function, what: "kernel function name")
        try self.init(
            resolved: .functionKprobe(function: function, parameters: nil), format: nil, filter: filter,
            options: options)
    }

    /// Generates the program for a tracepoint (fields read from its record) or a syscall
    /// kprobe (fields read from the syscall's argument registers, named by `format`).
    /// `member`: its position among probes compiled together, which suffixes every name it
    /// declares but the shared perf table's, and which its records carry; nil for a program
    /// compiled alone.
    ///
    /// - Throws: ``EBPFError/Code/invalidArgument`` for bad filters or options.
    init(
        resolved: ResolvedPoint, format: TracepointFormat?, filter: ProbeFilter, options: ProbeOptions,
        member: Int? = nil
    ) throws(EBPFError) {
        let filter = try filter.resolved()
        try options.validate()
        try resolved.validate()
        self.resolved = resolved
        let suffix = member.map { "_\($0)" } ?? ""
        functionName = resolved.requiredFunctionName ?? Self.standaloneFunctionName + suffix
        tableName = Self.standaloneTableName
        probeIndex = member ?? 0
        var builder = Builder(options: options, resolved: resolved, suffix: suffix)
        eventName = resolved.eventName
        switch resolved.arguments {
        case .tracepointRecord:
            guard let format else { preconditionFailure("a tracepoint probe needs its format") }
            for field in format.fields {
                builder.addFormatField(
                    field, siblings: format.fields, source: .record(offset: field.offset, size: field.size))
            }
        case .syscallRegisters:
            guard let format else { preconditionFailure("a syscall kprobe needs the syscall's format") }
            for (index, field) in format.fields.prefix(6).enumerated() {
                builder.addFormatField(field, siblings: format.fields, source: .argument(index))
            }
        case .functionRegisters(let parameters?):
            for (index, parameter) in parameters.enumerated() {
                builder.addKernelParameter(parameter, value: "ebpf_args[\(index)]")
            }
        case .functionRegisters(nil):
            for index in 0..<6 {
                builder.addScalar(
                    name: "arg\(index)", cType: "u64", size: 8, kind: .unsigned, value: "ebpf_args[\(index)]",
                    bits: nil)
            }
        case .trampoline(let parameters, _, let returnValue):
            for (index, parameter) in parameters.enumerated() {
                builder.addKernelParameter(parameter, value: "ebpf_args[\(index)]")
            }
            if let returnValue { builder.addKernelParameter(returnValue, value: "ebpf_args[6]") }
        case .usdt(let probe, let strings):
            for index in probe.arguments.indices {
                let name = "arg\(index + 1)"
                if strings.contains(index + 1) {
                    builder.addUserString(name: name, pointer: "(const void *)ebpf_args[\(index)]")
                } else {
                    let type = try USDTArgumentReader.valueType(of: probe, argument: index)
                    builder.addScalar(
                        name: name, cType: type.cType, size: type.size, kind: type.isSigned ? .signed : .unsigned,
                        value: "ebpf_args[\(index)]", bits: nil)
                }
            }
        case .kernelReturn(nil):
            builder.addReturnRegister()
        case .userRegisters(let sites, _) where sites.isReturn:
            builder.addReturnRegister()
        case .userRegisters(_, let strings):
            for index in 0..<6 {
                let name = "arg\(index + 1)"
                if strings.contains(index + 1) {
                    builder.addUserString(name: name, pointer: "(const void *)ebpf_args[\(index)]")
                } else {
                    builder.addScalar(
                        name: name, cType: "s64", size: 8, kind: .signed, value: "ebpf_args[\(index)]", bits: nil)
                }
            }
        case .kernelReturn(let returnValue?):
            builder.addKernelParameter(returnValue, value: "ebpf_args[0]")
        case .sample:
            break
        }
        stacks = options.stacks
        stackOffsets = builder.addStacks(options.stacks)
        source = builder
        self.filter = filter
        emission = builder.emittable ? Emission(filter: filter, fills: builder.fills) : nil
        layout = RecordLayout.interned(fields: builder.fields, size: builder.recordSize, eventName: eventName)
    }
}

extension ProbeProgram {
    /// One program holding every program of `programs` (generated with distinct `member`
    /// numbers), each header included once: compiled once, it declares each member's
    /// function under that member's name, and one perf table they all submit to.
    static func combinedText(of programs: [ProbeProgram]) -> String {
        var includes: [String] = []
        for line in programs.flatMap(\.includes) where !includes.contains(line) { includes.append(line) }
        // Probes attached together share their options, so one stack table serves them all.
        let stacks = programs.first { !$0.stacks.isEmpty }.map { StackTable.declarations(depth: $0.stacks.maxDepth) }
        // And they share their filter, so one cgroup table too.
        let cgroup = programs.first { $0.filter.cgroupTest?.descendants == true }.map { _ in
            [CgroupFilterTable.declaration]
        }
        return (includes + [tableDeclaration] + (stacks ?? []) + (cgroup ?? []) + programs.map(\.body))
            .joined(separator: "\n")
    }

    /// The perf table every generated program submits its records to.
    static let tableDeclaration = "BPF_PERF_OUTPUT(\(standaloneTableName));"
}

extension ProbeProgram {
    /// A thread name as the kernel stores it (16 NUL-padded bytes), read as two
    /// little-endian 64-bit words.
    static func commWords(_ name: String) -> (UInt64, UInt64) {
        var bytes = Array(name.utf8.prefix(15))
        bytes += [UInt8](repeating: 0, count: 16 - bytes.count)
        func word(_ slice: ArraySlice<UInt8>) -> UInt64 {
            slice.enumerated().reduce(0) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        }
        return (word(bytes[0..<8]), word(bytes[8..<16]))
    }
}

extension ProbeProgram {
    /// Accumulates record members, the statements that fill them and the layout that
    /// decodes them.
    fileprivate struct Builder {
        enum Source {
            /// Bytes of the tracepoint's raw record.
            case record(offset: Int, size: Int)
            /// The n-th syscall argument (register), as a u64.
            case argument(Int)
        }

        let options: ProbeOptions
        let resolved: ResolvedPoint
        /// Appended to every name the program declares.
        let suffix: String
        var members: [String] = []
        var statements: [String] = []
        var fields: [FieldLayout] = []
        var offset = ProbeRecordHeader.Offset.end
        var alignment = 8
        /// The statements again, for ``ProbeEmitter``; `emittable` turns false at the first
        /// one it cannot build.
        var fills: [Fill] = []
        var emittable: Bool
        /// Members outside the event's fields (stack ids), whose offsets the C asserts.
        var stackMembers: [(name: String, offset: Int)] = []

        init(options: ProbeOptions, resolved: ResolvedPoint, suffix: String) {
            self.options = options
            self.resolved = resolved
            self.suffix = suffix
            if case .tracepointRecord = resolved.arguments { emittable = true } else { emittable = false }
        }

        /// The members that keep the stack ids `stacks` asks for, after the fields, and the
        /// statements that record them; where they lie.
        mutating func addStacks(_ stacks: StackCapture) -> (kernel: Int?, user: Int?) {
            var offsets: (kernel: Int?, user: Int?) = (nil, nil)
            for (name, user) in [("kstack", false), ("ustack", true)] where user ? stacks.user : stacks.kernel {
                let at = place(size: 4, alignment: 4)
                members.append("s32 \(name);")
                statements += StackTable.record(into: "e->\(name)", user: user)
                stackMembers.append((name, at))
                if user { offsets.user = at } else { offsets.kernel = at }
                emittable = false
            }
            return offsets
        }

        /// Records the emitter's form of the statement just added, or that it has none.
        mutating func emit(_ fill: Fill?) {
            if let fill { fills.append(fill) } else { emittable = false }
        }

        /// A scalar source as the emitter reads it: a naturally aligned value of the record.
        func recordValue(_ source: Source) -> RecordValue? {
            guard case .record(let offset, let size) = source, [1, 2, 4, 8].contains(size), offset % size == 0 else {
                return nil
            }
            return RecordValue(offset: offset, size: size)
        }

        /// The headers the program's body needs.
        var includes: [String] { resolved.includes }

        var recordSize: Int { SubmittedStructLayout.align(offset, to: alignment) }

        /// Whether pointers in the record point into the traced process (syscall arguments)
        /// rather than into the kernel.
        var pointersAreUser: Bool { resolved.pointersAreUser }

        mutating func place(size: Int, alignment memberAlignment: Int) -> Int {
            offset = SubmittedStructLayout.align(offset, to: memberAlignment)
            alignment = max(alignment, memberAlignment)
            defer { offset += size }
            return offset
        }

        /// A scalar slot's value as a C expression of `size` bytes.
        func value(of source: Source) -> String {
            switch source {
            case .record(let offset, let size):
                return "(*(\(Self.cType(size: size, signed: false)) *)((char *)ctx + \(offset)))"
            case .argument(let index):
                return "ebpf_args[\(index)]"
            }
        }

        static func cType(size: Int, signed: Bool) -> String {
            (signed ? "s" : "u") + String(size * 8)
        }

        /// A member of `size` bytes set to `value` converted to `cType`; `bits`: the same value
        /// as the emitter reads it, whose low `size` bytes are the member (nil where the
        /// conversion is not a truncation, or the value is not in the record).
        mutating func addScalar(
            name: String, cType: String, size: Int, kind: FieldLayout.Kind, value: String, bits: RecordValue?
        ) {
            let at = place(size: size, alignment: size)
            members.append("\(cType) f_\(name);")
            statements.append("e->f_\(name) = (\(cType))\(value);")
            emit(bits.map { .scalar(at: at, size: size, value: $0) })
            fields.append(FieldLayout(name: name, offset: at, elementSize: size, kind: kind))
        }

        /// `ret`: the return register, whole, as a signed 64-bit value.
        mutating func addReturnRegister() {
            addScalar(name: "ret", cType: "s64", size: 8, kind: .signed, value: "ebpf_args[0]", bits: nil)
        }

        /// A kernel function's parameter, of value `value` (a u64 of its register).
        mutating func addKernelParameter(_ parameter: KernelParameter, value: String) {
            let name = parameter.name
            switch parameter.value {
            case .integer(let size, let signed):
                addScalar(
                    name: name, cType: Self.cType(size: size, signed: signed), size: size,
                    kind: signed ? .signed : .unsigned, value: value, bits: nil)
            case .pointer:
                addScalar(name: name, cType: "u64", size: 8, kind: .pointer, value: value, bits: nil)
            case .string:
                // x86-64 keeps the kernel in the upper half: a pointer there is the kernel's.
                _ = addStringMember(
                    name: name, capacity: options.stringSize,
                    read:
                        "if ((s64)\(value) < 0) bpf_probe_read_kernel_str(&e->f_\(name), sizeof(e->f_\(name)), (const void *)\(value)); else bpf_probe_read_user_str(&e->f_\(name), sizeof(e->f_\(name)), (const void *)\(value));"
                )
                emit(nil)
            case .socket(let offsets):
                addScalar(name: name, cType: "u64", size: 8, kind: .pointer, value: value, bits: nil)
                let familyAt = place(size: 2, alignment: 2)
                members.append("u16 f_\(name)_family;")
                statements.append(
                    "e->f_\(name)_family = 0; bpf_probe_read_kernel(&e->f_\(name)_family, 2, (const void *)(\(value) + \(offsets.family)));"
                )
                fields.append(FieldLayout(name: name + "_family", offset: familyAt, elementSize: 2, kind: .unsigned))
                addSocketAddress(
                    name: name + "_source", socket: value, family: "e->f_\(name)_family",
                    v4: offsets.sourceV4, v6: offsets.sourceV6, port: offsets.sourcePort, portInHostOrder: true)
                addSocketAddress(
                    name: name + "_destination", socket: value, family: "e->f_\(name)_family",
                    v4: offsets.destinationV4, v6: offsets.destinationV6, port: offsets.destinationPort,
                    portInHostOrder: false)
            }
        }

        /// A `struct sockaddr_in`/`_in6` built from a `struct sock`'s address and port at
        /// these offsets, with its length (0 for another family).
        mutating func addSocketAddress(
            name: String, socket: String, family: String, v4: Int, v6: Int, port: Int, portInHostOrder: Bool
        ) {
            let capacity = 28
            let at = place(size: capacity, alignment: 1)
            let lengthAt = place(size: 4, alignment: 4)
            members.append("u8 f_\(name)[\(capacity)];")
            members.append("u32 l_\(name);")
            let field = "e->f_\(name)"
            let swap = portInHostOrder ? " ebpf_port = __builtin_bswap16(ebpf_port);" : ""
            statements.append(
                """
                {
                        u16 ebpf_port = 0;
                        bpf_probe_read_kernel(&ebpf_port, 2, (const void *)(\(socket) + \(port)));\(swap)
                        __builtin_memset(\(field), 0, \(capacity));
                        e->l_\(name) = 0;
                        if (\(family) == 2 || \(family) == 10) {
                            __builtin_memcpy(\(field), &\(family), 2);
                            __builtin_memcpy(\(field) + 2, &ebpf_port, 2);
                        }
                        if (\(family) == 2) {
                            bpf_probe_read_kernel(\(field) + 4, 4, (const void *)(\(socket) + \(v4)));
                            e->l_\(name) = 16;
                        } else if (\(family) == 10) {
                            bpf_probe_read_kernel(\(field) + 8, 16, (const void *)(\(socket) + \(v6)));
                            e->l_\(name) = 28;
                        }
                    }
                """)
            fields.append(
                FieldLayout(
                    name: name, offset: at, elementSize: 1, count: capacity, kind: .socketAddress,
                    lengthOffset: lengthAt))
            emit(nil)
        }

        /// The strings of a NULL-terminated array of string pointers at `array` (`argv`): at
        /// most `stringArrayCount` of `stringArrayElementSize` bytes each, and how many.
        mutating func addStringArray(name: String, array: String, emitted: RecordValue?) {
            let count = options.stringArrayCount
            let elementSize = options.stringArrayElementSize
            let at = place(size: count * elementSize, alignment: 1)
            let countAt = place(size: 4, alignment: 4)
            members.append("char f_\(name)[\(count * elementSize)];")
            members.append("u32 l_\(name);")
            let (read, readString) =
                pointersAreUser
                ? ("bpf_probe_read_user", "bpf_probe_read_user_str")
                : ("bpf_probe_read_kernel", "bpf_probe_read_kernel_str")
            statements.append(
                """
                e->l_\(name) = 0;
                    #pragma unroll
                    for (int ebpf_i = 0; ebpf_i < \(count); ebpf_i++) {
                        const char *ebpf_string = 0;
                        if (\(read)(&ebpf_string, sizeof(ebpf_string), (const void *)((u64)(\(array)) + 8 * ebpf_i)) != 0 || !ebpf_string) break;
                        \(readString)(&e->f_\(name)[ebpf_i * \(elementSize)], \(elementSize), ebpf_string);
                        e->l_\(name) = ebpf_i + 1;
                    }
                """)
            fields.append(
                FieldLayout(
                    name: name, offset: at, elementSize: elementSize, count: count, kind: .strings,
                    lengthOffset: countAt
                ))
            emit(
                emitted.map {
                    .strings(
                        at: at, count: count, elementSize: elementSize, countAt: countAt, from: $0,
                        user: pointersAreUser)
                })
        }

        /// A `char` member of `capacity` bytes filled by `read` (a statement writing a
        /// NUL-terminated string into `e->f_<name>`); its offset in the record.
        mutating func addStringMember(name: String, capacity: Int, read: String) -> Int {
            let at = place(size: capacity, alignment: 1)
            members.append("char f_\(name)[\(capacity)];")
            statements.append(read)
            fields.append(FieldLayout(name: name, offset: at, elementSize: 1, count: capacity, kind: .character))
            return at
        }

        /// A NUL-terminated string copied from the traced process's memory at `pointer`.
        mutating func addUserString(name: String, pointer: String) {
            _ = addStringMember(
                name: name, capacity: options.stringSize,
                read: "bpf_probe_read_user_str(&e->f_\(name), sizeof(e->f_\(name)), \(pointer));")
            emit(nil)
        }

        mutating func addFormatField(
            _ field: TracepointFormat.Field, siblings: [TracepointFormat.Field], source: Source
        ) {
            let name = field.name
            let normalized = field.type.split(whereSeparator: { $0 == " " })
                .filter { $0 != "const" && $0 != "__user" && $0 != "volatile" }.joined()
            let elementType = CType(parsing: String(field.type.split(separator: "[").first ?? ""))

            if field.isDynamic {
                let isText = normalized.hasPrefix("char")
                let capacity = isText ? options.stringSize : min(options.stringSize, Self.maximumBytes)
                guard case .record(let offset, _) = source else { return }
                let location = "(*(u32 *)((char *)ctx + \(offset)))"
                if isText {
                    let at = addStringMember(
                        name: name, capacity: capacity,
                        read:
                            "bpf_probe_read_kernel_str(&e->f_\(name), sizeof(e->f_\(name)), (char *)ctx + (\(location) & 0xFFFF));"
                    )
                    emit(
                        offset % 4 == 0
                            ? .string(at: at, capacity: capacity, from: .dataLocation(offset: offset), user: false)
                            : nil)
                } else {
                    addCopiedBytes(
                        name: name, capacity: capacity, kind: .bytes,
                        length: "\(location) >> 16", from: "(char *)ctx + (\(location) & 0xFFFF)", user: false,
                        emitted: offset % 4 == 0 ? (.dataLocation(offset: offset), .dataLocation(offset: offset)) : nil)
                }
                return
            }

            if let count = field.arrayLength, case .record(let offset, let size) = source {
                let elementSize = size / count
                let isText = elementType?.kind == .character && elementSize == 1
                let at = place(size: size, alignment: 1)
                members.append("u8 f_\(name)[\(size)];")
                statements.append("bpf_probe_read_kernel(&e->f_\(name), \(size), (char *)ctx + \(offset));")
                let kind: FieldLayout.Kind =
                    isText
                    ? .character
                    : elementType.map { $0.kind == .character ? .signed : $0.kind }
                        ?? (field.isSigned ? .signed : .unsigned)
                fields.append(FieldLayout(name: name, offset: at, elementSize: elementSize, count: count, kind: kind))
                emit(.copy(at: at, size: size, recordOffset: offset))
                return
            }

            let words = field.type.split(whereSeparator: { $0 == " " || $0 == "*" })
                .filter { $0 != "const" && $0 != "__user" && $0 != "volatile" }
            if words == ["char"], field.type.filter({ $0 == "*" }).count == 2 {
                addStringArray(name: name, array: value(of: source), emitted: recordValue(source))
                return
            }
            if normalized.contains("*") {
                let pointer = "(const void *)(long)\(value(of: source))"
                if normalized == "char*" || normalized == "unsignedchar*" {
                    let helper = pointersAreUser ? "bpf_probe_read_user_str" : "bpf_probe_read_kernel_str"
                    let at = addStringMember(
                        name: name, capacity: options.stringSize,
                        read: "\(helper)(&e->f_\(name), sizeof(e->f_\(name)), \(pointer));")
                    emit(
                        recordValue(source).map {
                            .string(at: at, capacity: options.stringSize, from: .value($0), user: pointersAreUser)
                        })
                    return
                }
                if normalized.hasSuffix("sockaddr*"), let length = Self.lengthSibling(of: field, in: siblings) {
                    let lengthSource: Source
                    switch source {
                    case .record: lengthSource = .record(offset: length.offset, size: length.size)
                    case .argument:
                        let index = siblings.firstIndex(of: length) ?? 0
                        lengthSource = .argument(index)
                    }
                    let emitted = recordValue(lengthSource).flatMap { length in
                        recordValue(source).map { (length: Fill.Length.value(length), from: Fill.Pointer.value($0)) }
                    }
                    addCopiedBytes(
                        name: name, capacity: Self.socketAddressSize, kind: .socketAddress,
                        length: value(of: lengthSource), from: pointer, user: pointersAreUser, emitted: emitted)
                    return
                }
                addScalar(
                    name: name, cType: "u64", size: 8, kind: .pointer, value: value(of: source),
                    bits: recordValue(source))
                return
            }

            let slotSize: Int
            if case .record(_, let size) = source { slotSize = size } else { slotSize = 8 }
            if let declared = elementType, declared.count == nil, declared.kind != .pointer,
                declared.kind != .bytes, declared.elementSize <= slotSize
            {
                let kind: FieldLayout.Kind = declared.kind == .character ? .signed : declared.kind
                let signed = kind == .signed
                let cType =
                    declared.kind == .floatingPoint
                    ? (declared.elementSize == 4 ? "float" : "double")
                    : Self.cType(size: declared.elementSize, signed: signed)
                addScalar(
                    name: name, cType: cType, size: declared.elementSize, kind: kind, value: value(of: source),
                    // Converting to a float or a smaller bool is not a truncation: clang's.
                    bits: declared.kind == .floatingPoint
                        || (declared.kind == .boolean && declared.elementSize < slotSize)
                        ? nil : recordValue(source))
            } else if [1, 2, 4, 8].contains(slotSize) {
                addScalar(
                    name: name, cType: Self.cType(size: slotSize, signed: field.isSigned), size: slotSize,
                    kind: field.isSigned ? .signed : .unsigned, value: value(of: source), bits: recordValue(source))
            } else if case .record(let offset, let size) = source {
                let at = place(size: size, alignment: 1)
                members.append("u8 f_\(name)[\(size)];")
                statements.append("bpf_probe_read_kernel(&e->f_\(name), \(size), (char *)ctx + \(offset));")
                fields.append(FieldLayout(name: name, offset: at, elementSize: size, kind: .bytes))
                emit(.copy(at: at, size: size, recordOffset: offset))
            }
        }

        static let socketAddressSize = 128
        static let maximumBytes = 256

        /// The `addrlen`-style argument that gives a `struct sockaddr *` argument's length;
        /// nil when the length is an out-parameter (`accept`'s `int *`), since the address
        /// is not filled in yet at syscall entry.
        static func lengthSibling(of field: TracepointFormat.Field, in siblings: [TracepointFormat.Field])
            -> TracepointFormat.Field?
        {
            siblings.first { candidate in
                (candidate.name == "addrlen" || candidate.name == "addr_len") && !candidate.type.contains("*")
            }
        }

        /// A byte buffer filled with a run-time length, clamped to `capacity`, plus a hidden
        /// u32 member that records how many bytes are valid.
        mutating func addCopiedBytes(
            name: String, capacity: Int, kind: FieldLayout.Kind, length: String, from source: String, user: Bool,
            emitted: (length: Fill.Length, from: Fill.Pointer)?
        ) {
            let at = place(size: capacity, alignment: 1)
            let lengthAt = place(size: 4, alignment: 4)
            members.append("u8 f_\(name)[\(capacity)];")
            members.append("u32 l_\(name);")
            let helper = user ? "bpf_probe_read_user" : "bpf_probe_read_kernel"
            statements.append(
                """
                {
                        u64 ebpf_len = (u64)(\(length));
                        if (ebpf_len > \(capacity)) ebpf_len = \(capacity);
                        e->l_\(name) = ebpf_len;
                        if (\(helper)(&e->f_\(name), ebpf_len, \(source)) != 0) e->l_\(name) = 0;
                    }
                """)
            fields.append(
                FieldLayout(name: name, offset: at, elementSize: 1, count: capacity, kind: kind, lengthOffset: lengthAt)
            )
            emit(
                emitted.map {
                    .bytes(at: at, capacity: capacity, lengthAt: lengthAt, length: $0.length, from: $0.from, user: user)
                })
        }

        /// The program's declarations and function, every declared name suffixed; the perf
        /// table it submits to is declared apart (``ProbeProgram/tableDeclaration``).
        func program(filter: ProbeFilter, probeIndex: Int) -> String {
            let record = "ebpf_event" + suffix
            let scratch = "ebpf_scratch" + suffix
            let table = ProbeProgram.standaloneTableName
            var lines: [String] = []
            lines.append("struct \(record) {")
            lines += ProbeRecordHeader.members.map { "    " + $0.declaration }
            lines += members.map { "    " + $0 }
            lines.append("};")
            func assertOffset(_ member: String, _ offset: Int) {
                lines.append(
                    "_Static_assert(__builtin_offsetof(struct \(record), \(member)) == \(offset), \"record layout\");")
            }
            for member in ProbeRecordHeader.members { assertOffset(member.layout.name, member.layout.offset) }
            for member in stackMembers { assertOffset(member.name, member.offset) }
            for field in fields {
                assertOffset("f_" + field.name, field.offset)
                if let lengthOffset = field.lengthOffset { assertOffset("l_" + field.name, lengthOffset) }
            }
            lines.append("_Static_assert(sizeof(struct \(record)) == \(recordSize), \"record size\");")
            lines.append("BPF_PERCPU_ARRAY(\(scratch), struct \(record), 1);")
            lines.append("")
            let function = resolved.requiredFunctionName ?? ProbeProgram.standaloneFunctionName + suffix
            lines.append("int \(function)(\(resolved.contextDeclaration)) {")
            lines += ProbeProgram.prologue(filter: filter, resolved: resolved)
            lines.append("    int ebpf_zero = 0;")
            lines.append("    struct \(record) *e = \(scratch).lookup(&ebpf_zero);")
            lines.append("    if (!e) return 0;")
            lines.append("    u32 ebpf_probe_index = \(probeIndex);")
            lines += ProbeRecordHeader.members.map { "    " + $0.fill }
            lines += statements.map { "    " + $0 }
            lines.append("    \(table).perf_submit(ctx, e, sizeof(*e));")
            lines.append("    return 0;")
            lines.append("}")
            return lines.joined(separator: "\n") + "\n"
        }
    }
}

extension ProbeProgram {
    /// The C every generated function starts with: the thread's ids (`ebpf_id`,
    /// `ebpf_ugid`), the filter's tests (`return 0` on a mismatch), the thread's name
    /// (`ebpf_comm`) when `readsName`, and for kprobes the six arguments (`ebpf_args`).
    static func prologue(filter: ProbeFilter, resolved: ResolvedPoint, readsName: Bool = true) -> [String] {
        var lines: [String] = []
        lines.append("    u64 ebpf_id = bpf_get_current_pid_tgid();")
        lines.append("    u64 ebpf_ugid = bpf_get_current_uid_gid();")
        if let pid = filter.processID { lines.append("    if ((ebpf_id >> 32) != \(pid)) return 0;") }
        if let tid = filter.threadID { lines.append("    if ((u32)ebpf_id != \(tid)) return 0;") }
        if let uid = filter.userID { lines.append("    if ((u32)ebpf_ugid != \(uid)) return 0;") }
        if let cgroup = filter.cgroupTest {
            lines.append(
                cgroup.descendants
                    ? "    if (\(CgroupFilterTable.name).check_current_task(0) != 1) return 0;"
                    : "    if (bpf_get_current_cgroup_id() != \(cgroup.id)ULL) return 0;")
        }
        if readsName || filter.processName != nil {
            lines.append("    char ebpf_comm[16] = {};")
            lines.append("    bpf_get_current_comm(&ebpf_comm, sizeof(ebpf_comm));")
        }
        if let name = filter.processName {
            // The kernel NUL-pads comm to 16 bytes, so the name compares as two 64-bit
            // words against numeric constants: nothing of the name reaches C as text, and
            // two branches keep the verifier's path count flat (sixteen byte compares
            // made clang emit code whose paths the verifier cannot finish exploring).
            let (low, high) = ProbeProgram.commWords(name)
            lines.append("    u64 ebpf_comm_low, ebpf_comm_high;")
            lines.append("    __builtin_memcpy(&ebpf_comm_low, ebpf_comm, 8);")
            lines.append("    __builtin_memcpy(&ebpf_comm_high, ebpf_comm + 8, 8);")
            lines.append(
                "    if (ebpf_comm_low != 0x\(String(low, radix: 16))ULL || ebpf_comm_high != 0x\(String(high, radix: 16))ULL) return 0;"
            )
        }
        switch resolved.arguments {
        case .tracepointRecord, .sample:
            break
        case .syscallRegisters(let wrapped):
            lines.append("    u64 ebpf_args[6] = {};")
            if wrapped {
                lines.append("    struct pt_regs *ebpf_regs = (struct pt_regs *)PT_REGS_PARM1(ctx);")
                for (index, register) in ["di", "si", "dx", "r10", "r8", "r9"].enumerated() {
                    lines.append("    bpf_probe_read_kernel(&ebpf_args[\(index)], 8, &ebpf_regs->\(register));")
                }
            } else {
                for index in 0..<6 { lines.append("    ebpf_args[\(index)] = PT_REGS_PARM\(index + 1)(ctx);") }
            }
        case .userRegisters(let sites, _) where sites.isReturn:
            lines.append("    u64 ebpf_args[1] = { PT_REGS_RC(ctx) };")
        case .functionRegisters, .userRegisters:
            lines.append("    u64 ebpf_args[6] = {};")
            for index in 0..<6 { lines.append("    ebpf_args[\(index)] = PT_REGS_PARM\(index + 1)(ctx);") }
        case .trampoline(let parameters, let count, _):
            // The trampoline passes the arguments as u64s, the return value after them.
            lines.append("    u64 ebpf_args[7] = {};")
            for index in parameters.indices { lines.append("    ebpf_args[\(index)] = ctx[\(index)];") }
            if resolved.point.kind == .fexit { lines.append("    ebpf_args[6] = ctx[\(count)];") }
        case .kernelReturn:
            lines.append("    u64 ebpf_args[1] = { PT_REGS_RC(ctx) };")
        case .usdt(let probe, _):
            // Each argument at its width, then widened with its sign into the u64 slot.
            lines.append("    u64 ebpf_args[\(max(1, probe.arguments.count))] = {};")
            for index in probe.arguments.indices {
                // Readable: `ResolvedPoint.validate()` checked when the program was built.
                guard let type = try? USDTArgumentReader.valueType(of: probe, argument: index),
                    let read = try? USDTArgumentReader.read(probe, argument: index, into: "ebpf_value")
                else { continue }
                lines.append("    { \(type.cType) ebpf_value = 0; \(read) ebpf_args[\(index)] = (u64)ebpf_value; }")
            }
        }
        return lines
    }
}
