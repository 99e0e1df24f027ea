import EBPFKernel
import EBPFProgram

/// An event's fields as a generated program reads them by name: from the tracepoint's
/// record (at the offsets of its format file), or from a kprobe's argument registers.
/// Only offsets and registers reach the C text, never a name.
struct EventFields {
    let resolved: ResolvedPoint
    let format: TracepointFormat?

    /// A field's value as C reads it.
    struct Operand {
        enum Source {
            case record(offset: Int)
            case argument(Int)
        }

        /// nil for a kernel function's `argN`, which has no declared type.
        let field: TracepointFormat.Field?
        let source: Source
        /// Whether pointers point into the traced process (syscall arguments).
        let pointersAreUser: Bool

        /// An integer read: a C expression and how its bits read back, and for the emitter,
        /// the record's bytes it reads (nil for a register).
        struct Integer {
            var expression: String
            var isSigned: Bool
            var isPointer: Bool
            var recordValue: ProbeProgram.RecordValue?
        }

        /// A string read into a key: its capacity and the statement that fills it, and for
        /// the emitter, where it is read from (nil for a register's pointer).
        struct Text {
            var capacity: Int
            var fill: (_ destination: String) -> String
            var source: AggregationProgram.KeyRead.TextSource?
        }

        /// The field as an integer of its declared size, or nil when it is not one.
        var integer: Integer? {
            func integer(size: Int, signed: Bool, pointer: Bool = false) -> Integer {
                var value: ProbeProgram.RecordValue? = nil
                if case .record(let offset) = source { value = ProbeProgram.RecordValue(offset: offset, size: size) }
                return Integer(
                    expression: read(size: size, signed: signed), isSigned: signed, isPointer: pointer,
                    recordValue: value)
            }
            guard let field else { return integer(size: 8, signed: false) }
            guard !field.isDynamic, field.arrayLength == nil else { return nil }
            if normalizedType.contains("*") {
                guard field.size == 8 || !isRecord else { return nil }
                return integer(size: 8, signed: false, pointer: true)
            }
            if let declared = CType(parsing: field.type), declared.count == nil,
                [.signed, .unsigned, .character, .boolean].contains(declared.kind),
                declared.elementSize <= (isRecord ? field.size : 8)
            {
                let signed = declared.kind == .signed || (declared.kind == .character && field.isSigned)
                return integer(size: declared.elementSize, signed: signed)
            }
            guard [1, 2, 4, 8].contains(field.size) else { return nil }
            return integer(size: field.size, signed: field.isSigned)
        }

        /// The field as a string of at most `capacity` bytes, or nil when it is not one.
        func text(capacity: Int) -> Text? {
            guard let field else { return nil }
            let isCharacter = normalizedType.hasPrefix("char") || normalizedType.hasPrefix("unsignedchar")
            if normalizedType == "char*" || normalizedType == "unsignedchar*" {
                let helper = pointersAreUser ? "bpf_probe_read_user_str" : "bpf_probe_read_kernel_str"
                let pointer = "(const void *)(long)\(read(size: 8, signed: false))"
                var source: AggregationProgram.KeyRead.TextSource? = nil
                if case .record(let offset) = self.source {
                    source = .string(
                        from: .value(ProbeProgram.RecordValue(offset: offset, size: 8)), user: pointersAreUser)
                }
                return Text(
                    capacity: capacity, fill: { "\(helper)(&\($0), sizeof(\($0)), \(pointer));" }, source: source)
            }
            guard case .record(let offset) = source, isCharacter else { return nil }
            if field.isDynamic {
                let location = "(*(u32 *)((char *)ctx + \(offset)))"
                return Text(
                    capacity: capacity,
                    fill: {
                        "bpf_probe_read_kernel_str(&\($0), sizeof(\($0)), (char *)ctx + (\(location) & 0xFFFF));"
                    }, source: .string(from: .dataLocation(offset: offset), user: false))
            }
            guard let length = field.arrayLength, length > 0, field.size == length else { return nil }
            let kept = min(length, capacity)
            return Text(
                capacity: kept, fill: { "bpf_probe_read_kernel(&\($0), \(kept), (char *)ctx + \(offset));" },
                source: .characters(recordOffset: offset))
        }

        var typeDescription: String {
            guard let field else { return "an argument register" }
            return "of type '\(field.isDynamic ? "__data_loc " : "")\(field.type)'"
        }

        private var isRecord: Bool {
            if case .record = source { return true }
            return false
        }

        private var normalizedType: String {
            (field?.type ?? "").split(whereSeparator: { $0 == " " })
                .filter { $0 != "const" && $0 != "__user" && $0 != "volatile" }.joined()
        }

        private func read(size: Int, signed: Bool) -> String {
            let type = (signed ? "s" : "u") + String(size * 8)
            switch source {
            case .record(let offset): return "(*(\(type) *)((char *)ctx + \(offset)))"
            case .argument(let index): return "((\(type))ebpf_args[\(index)])"
            }
        }
    }

    /// What the events are called: `syscalls:sys_enter_openat`, `kprobe:__x64_sys_openat`.
    var name: String { resolved.eventName }

    /// The names a program can read.
    var names: [String] {
        switch resolved.arguments {
        case .tracepointRecord: return format?.fields.map(\.name) ?? []
        case .syscallRegisters: return format?.fields.prefix(6).map(\.name) ?? []
        case .functionRegisters(let parameters?): return parameters.map(\.name)
        case .functionRegisters(nil): return (0..<6).map { "arg\($0)" }
        case .usdt(let probe, _): return probe.arguments.indices.map { "arg\($0 + 1)" }
        case .userRegisters(let sites, _): return sites.isReturn ? ["ret"] : (1...6).map { "arg\($0)" }
        case .kernelReturn(let returnValue): return [returnValue?.name ?? "ret"]
        case .sample: return []
        case .trampoline(let parameters, _, let returnValue):
            return parameters.map(\.name) + (returnValue.map { [$0.name] } ?? [])
        }
    }

    /// A kernel function's integer value as a field of its C type (`int`: a signed 32-bit
    /// value in its 64-bit register); nil for other kinds.
    static func integerField(_ parameter: KernelParameter) -> TracepointFormat.Field? {
        guard case .integer(let size, let signed) = parameter.value else { return nil }
        let names = [1: "char", 2: "short", 4: "int", 8: "long"]
        guard let name = names[size] else { return nil }
        return TracepointFormat.Field(
            name: parameter.name, type: (signed ? "" : "unsigned ") + name, offset: 0, size: 8, isSigned: signed,
            arrayLength: nil, isDynamic: false)
    }

    /// The field called `name`, which serves as `role` (named in the error).
    ///
    /// - Throws: ``EBPFError/Code/notFound`` when the event has no such field.
    func operand(named name: String, for role: String) throws(EBPFError) -> Operand {
        let missing = EBPFError(
            .notFound,
            "\(NameValidation.quoted(name)) is not a field of \(self.name), so it cannot be the \(role); its fields: \(names.joined(separator: ", "))"
        )
        switch resolved.arguments {
        case .tracepointRecord:
            guard let field = format?.fields.first(where: { $0.name == name }) else { throw missing }
            return Operand(
                field: field, source: .record(offset: field.offset), pointersAreUser: resolved.pointersAreUser)
        case .syscallRegisters:
            guard let format, let index = format.fields.prefix(6).firstIndex(where: { $0.name == name }) else {
                throw missing
            }
            return Operand(field: format.fields[index], source: .argument(index), pointersAreUser: true)
        case .usdt(_, let strings), .userRegisters(_, let strings):
            guard let index = names.firstIndex(of: name) else { throw missing }
            // An argument read as a string is a `char *`; the others are 64-bit integers
            // (a user function's signed, as Swift's Int).
            let declared: (type: String, isSigned: Bool)? =
                if strings.contains(index + 1) {
                    ("const char *", false)
                } else if case .userRegisters = resolved.arguments {
                    ("long", true)
                } else { nil }
            return Operand(
                field: declared.map {
                    TracepointFormat.Field(
                        name: name, type: $0.type, offset: 0, size: 8, isSigned: $0.isSigned, arrayLength: nil,
                        isDynamic: false)
                }, source: .argument(index), pointersAreUser: true)
        case .kernelReturn(let returnValue):
            guard let index = names.firstIndex(of: name) else { throw missing }
            return Operand(
                field: returnValue.flatMap(Self.integerField), source: .argument(index), pointersAreUser: false)
        case .functionRegisters, .sample:
            guard let index = names.firstIndex(of: name) else { throw missing }
            return Operand(field: nil, source: .argument(index), pointersAreUser: true)
        case .trampoline(let parameters, _, let returnValue):
            guard let index = names.firstIndex(of: name) else { throw missing }
            // The return value is kept after the six parameters, typed as BTF declares it.
            guard index < parameters.count else {
                return Operand(
                    field: returnValue.flatMap(Self.integerField), source: .argument(6), pointersAreUser: false)
            }
            return Operand(field: nil, source: .argument(index), pointersAreUser: true)
        }
    }
}
