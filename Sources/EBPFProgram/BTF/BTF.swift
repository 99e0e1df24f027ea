import EBPFKernel

/// The BPF Type Format: the types a kernel was built with — every struct and its members'
/// offsets, every function's parameters — as the kernel publishes them in
/// `/sys/kernel/btf/vmlinux` (`CONFIG_DEBUG_INFO_BTF`). bpftrace names kprobe arguments from
/// it, and fentry programs are attached by a function's id in it.
///
/// A plain value parsed from bytes, checked as it is read: offsets, counts, names and type
/// ids out of range throw ``EBPFError/Code/decodingFailed`` (never a crash), and a lookup
/// that meets a bad reference returns nil.
public struct BTF: Sendable {
    /// A type's number: 0 is `void`, the others index the types in file order from 1.
    public typealias TypeID = UInt32

    /// What a type is (`BTF_KIND_*`).
    public enum Kind: UInt8, Sendable {
        case integer = 1
        case pointer, array, structure, union, enumeration, forward, typedef, volatile, const, restrict
        case function, functionPrototype, variable, dataSection, float, declarationTag, typeTag, enumeration64
    }

    /// A struct's or union's member.
    public struct Member: Sendable, Hashable {
        /// Empty for an anonymous struct or union nested in place.
        public let name: String
        public let type: TypeID
        /// Bits from the start of the enclosing struct.
        public let bitOffset: Int
        /// The width of a bit field; nil for a plain member.
        public let bitFieldSize: Int?
    }

    /// A function's parameter.
    public struct Parameter: Sendable, Hashable {
        public let name: String
        public let type: TypeID
    }

    /// A kernel function: its id (what an fentry program attaches to), parameters and
    /// return type.
    public struct Function: Sendable, Hashable {
        public let id: TypeID
        public let name: String
        public let parameters: [Parameter]
        public let returnType: TypeID
    }

    /// One type's record: its kind, name, and the kind's own data.
    package struct Record: Sendable {
        package var kind: Kind
        package var nameOffset: UInt32
        package var count: Int
        package var kindFlag: Bool
        /// The size in bytes (integers, structs, unions, enums, floats) or the referred type.
        package var sizeOrType: UInt32
        /// Where the kind's data starts, in 32-bit words of ``words``.
        package var data: Int
    }

    private let records: [Record]
    /// The type section as little-endian 32-bit words.
    private let words: [UInt32]
    private let strings: [UInt8]
    /// The ids of the named functions, structs and unions, by name.
    private let functionsByName: [String: TypeID]
    private let compositesByName: [String: TypeID]

    /// The number of types, `void` not counted.
    public var typeCount: Int { records.count }

    /// The running kernel's BTF, read from `/sys/kernel/btf/vmlinux` once per process.
    ///
    /// - Throws: ``EBPFError/Code/notSupported`` when the kernel publishes none (built without
    ///   `CONFIG_DEBUG_INFO_BTF`), ``EBPFError/Code/decodingFailed`` for bytes it cannot read.
    public static func kernel() throws(EBPFError) -> BTF {
        try kernelBTF.get()
    }

    private static let kernelBTF: Result<BTF, EBPFError> = Result { () throws(EBPFError) -> BTF in
        let path = "/sys/kernel/btf/vmlinux"
        guard let bytes = SystemFiles.readBytes(path) else {
            throw EBPFError(
                .notSupported,
                "this kernel publishes no BTF (\(path) is missing or unreadable): it was built without CONFIG_DEBUG_INFO_BTF, so kernel functions' parameters have no names here"
            )
        }
        return try BTF(parsing: bytes)
    }

    /// Parses raw BTF (a `.BTF` section, or `/sys/kernel/btf/vmlinux`).
    ///
    /// - Throws: ``EBPFError/Code/decodingFailed`` saying what is out of place.
    public init(parsing bytes: [UInt8]) throws(EBPFError) {
        var reader = BTFReader(bytes: bytes)
        let header = try reader.header()
        words = try reader.typeWords(header)
        strings = try reader.strings(header)
        var records: [Record] = []
        var functions: [String: TypeID] = [:]
        var composites: [String: TypeID] = [:]
        var index = 0
        while index < words.count {
            let record = try BTFReader.record(
                in: words, at: &index, number: records.count + 1, stringsSize: strings.count)
            records.append(record)
            let id = TypeID(records.count)
            switch record.kind {
            case .function, .structure, .union:
                guard record.nameOffset != 0, let name = Self.string(at: record.nameOffset, in: strings) else { break }
                if record.kind == .function {
                    if functions[name] == nil { functions[name] = id }
                } else if composites[name] == nil {
                    composites[name] = id
                }
            default:
                break
            }
        }
        self.records = records
        functionsByName = functions
        compositesByName = composites
    }

    // MARK: - Lookups

    /// The kernel function `name`, with its parameters; nil when BTF has no such function
    /// (it was inlined everywhere, or is not a function of this kernel).
    public func function(named name: String) -> Function? {
        guard let id = functionsByName[name], let function = record(id), function.kind == .function,
            let prototype = record(function.sizeOrType), prototype.kind == .functionPrototype
        else { return nil }
        let parameters = (0..<prototype.count).map { index in
            let at = prototype.data + 2 * index
            return Parameter(name: string(at: words[at]) ?? "", type: words[at + 1])
        }
        return Function(id: id, name: name, parameters: parameters, returnType: prototype.sizeOrType)
    }

    /// The id of the struct (or union) called `name`; nil when there is none.
    public func compositeType(named name: String) -> TypeID? {
        compositesByName[name]
    }

    /// The members of struct or union `type` (after typedefs and qualifiers); nil for any
    /// other type.
    public func members(of type: TypeID) -> [Member]? {
        guard let id = resolved(type), let record = record(id), record.kind == .structure || record.kind == .union
        else { return nil }
        return (0..<record.count).map { index in
            let at = record.data + 3 * index
            let offset = words[at + 2]
            return Member(
                name: string(at: words[at]) ?? "", type: words[at + 1],
                bitOffset: Int(record.kindFlag ? offset & 0xFF_FFFF : offset),
                bitFieldSize: record.kindFlag && offset >> 24 != 0 ? Int(offset >> 24) : nil)
        }
    }

    /// A member reached through a path of names (`["__sk_common", "skc_family"]`), anonymous
    /// structs and unions looked through; its type and byte offset from the outermost struct.
    public func member(_ path: [String], of type: TypeID) -> (type: TypeID, byteOffset: Int)? {
        var current = type
        var bits = 0
        for name in path {
            guard let (member, offset) = findMember(name, in: current, depth: 0) else { return nil }
            current = member.type
            bits += offset
        }
        return bits % 8 == 0 ? (current, bits / 8) : nil
    }

    /// The named member `name` of `type`, looking into anonymous members, with its bit
    /// offset from `type`'s start.
    private func findMember(_ name: String, in type: TypeID, depth: Int) -> (Member, Int)? {
        guard depth < 8, let members = members(of: type) else { return nil }
        if let member = members.first(where: { $0.name == name }) { return (member, member.bitOffset) }
        for anonymous in members where anonymous.name.isEmpty {
            if let (member, offset) = findMember(name, in: anonymous.type, depth: depth + 1) {
                return (member, anonymous.bitOffset + offset)
            }
        }
        return nil
    }

    /// What a value of `type` is once typedefs and qualifiers are looked through.
    public enum Shape: Sendable, Hashable {
        case void
        case integer(size: Int, signed: Bool)
        case boolean
        case character(signed: Bool)
        case enumeration(size: Int, signed: Bool)
        case float(size: Int)
        /// A pointer, and what it points to (nil for `void *` or an unreadable type).
        case pointer(to: TypeID)
        case structure(size: Int)
        case union(size: Int)
        case array(element: TypeID, count: Int)
        case function
        case other
    }

    /// The shape of `type`.
    public func shape(of type: TypeID) -> Shape {
        guard type != 0 else { return .void }
        guard let id = resolved(type), let record = record(id) else { return .other }
        let size = Int(record.sizeOrType)
        switch record.kind {
        case .integer:
            let encoding = words[record.data] >> 24
            if encoding & 4 != 0 { return .boolean }
            if encoding & 2 != 0 || (size == 1 && name(of: id) == "char") {
                return .character(signed: encoding & 1 != 0)
            }
            return .integer(size: size, signed: encoding & 1 != 0)
        case .enumeration, .enumeration64: return .enumeration(size: size, signed: record.kindFlag)
        case .float: return .float(size: size)
        case .pointer: return .pointer(to: record.sizeOrType)
        case .structure: return .structure(size: size)
        case .union: return .union(size: size)
        case .array:
            return .array(element: words[record.data], count: Int(words[record.data + 2]))
        case .functionPrototype, .function: return .function
        default: return .other
        }
    }

    /// The size in bytes of a value of `type`; nil when it has none (void, a function) or is
    /// unreadable (an array nested in itself, or more than 32 arrays deep).
    public func size(of type: TypeID) -> Int? {
        size(of: type, depth: 0)
    }

    private func size(of type: TypeID, depth: Int) -> Int? {
        guard depth < 32 else { return nil }
        switch shape(of: type) {
        case .integer(let size, _), .enumeration(let size, _), .float(let size), .structure(let size),
            .union(let size):
            return size
        case .boolean, .character: return 1
        case .pointer: return 8
        case .array(let element, let count):
            guard let size = size(of: element, depth: depth + 1) else { return nil }
            return size.multipliedReportingOverflow(by: count).overflow ? nil : size * count
        case .void, .function, .other: return nil
        }
    }

    /// The type's name as C writes it: `int`, `struct sock *`, `const char *`, `u32`.
    public func typeName(of type: TypeID) -> String {
        typeName(of: type, depth: 0)
    }

    private func typeName(of type: TypeID, depth: Int) -> String {
        guard type != 0 else { return "void" }
        guard depth < 16, let record = record(type) else { return "?" }
        let name = string(at: record.nameOffset) ?? ""
        switch record.kind {
        case .integer, .float, .typedef: return name
        case .structure: return "struct " + name
        case .union: return "union " + name
        case .enumeration, .enumeration64: return "enum " + name
        case .forward: return (record.kindFlag ? "union " : "struct ") + name
        case .pointer:
            let pointee = typeName(of: record.sizeOrType, depth: depth + 1)
            return pointee.hasSuffix("*") ? pointee + "*" : pointee + " *"
        case .const: return "const " + typeName(of: record.sizeOrType, depth: depth + 1)
        case .volatile: return "volatile " + typeName(of: record.sizeOrType, depth: depth + 1)
        case .restrict, .typeTag, .declarationTag: return typeName(of: record.sizeOrType, depth: depth + 1)
        case .array:
            return typeName(of: words[record.data], depth: depth + 1) + "[\(words[record.data + 2])]"
        case .function, .functionPrototype: return "function"
        case .variable, .dataSection: return name
        }
    }

    /// The name a type was declared with (empty for an anonymous one).
    public func name(of type: TypeID) -> String {
        record(type).flatMap { string(at: $0.nameOffset) } ?? ""
    }

    /// The kind of `type` as declared (typedefs not looked through); nil for `void` or an id
    /// out of range.
    public func kind(of type: TypeID) -> Kind? {
        record(type)?.kind
    }

    /// `type` with typedefs and qualifiers (const, volatile, restrict, type tags) looked
    /// through; nil for a broken or cyclic chain.
    package func resolved(_ type: TypeID) -> TypeID? {
        var current = type
        for _ in 0..<32 {
            guard let record = record(current) else { return nil }
            switch record.kind {
            case .typedef, .const, .volatile, .restrict, .typeTag: current = record.sizeOrType
            default: return current
            }
        }
        return nil
    }

    private func record(_ id: TypeID) -> Record? {
        id >= 1 && Int(id) <= records.count ? records[Int(id) - 1] : nil
    }

    private func string(at offset: UInt32) -> String? {
        Self.string(at: offset, in: strings)
    }

    package static func string(at offset: UInt32, in strings: [UInt8]) -> String? {
        let start = Int(offset)
        guard start < strings.count, let end = strings[start...].firstIndex(of: 0) else { return nil }
        return String(decoding: strings[start..<end], as: UTF8.self)
    }
}
