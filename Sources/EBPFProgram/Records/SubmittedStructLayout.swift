import EBPFKernel

/// Lays out the struct a BPF program submits to a perf or ring buffer, from the `name#type`
/// strings libbcc records for it (`pid#u32`, `comm#char[16]`, `ts#unsigned long long`).
///
/// libbcc gives no offsets, so this applies the C rules of the BPF target (x86-64 sizes,
/// each field aligned to its natural alignment, the struct padded to its largest
/// alignment) — the layout clang gave the struct when it compiled the program.
package enum SubmittedStructLayout {
    /// - Throws: ``EBPFError/Code/decodingFailed`` naming the field whose type the decoder
    ///   cannot size (a nested struct or union, an unknown typedef).
    /// - Parameter interned: Whether to return the process-wide shared layout (for buffers
    ///   the library reads); records decoded through the public API own theirs.
    package static func make(table: String, descriptions: [String], interned: Bool = true) throws(EBPFError)
        -> RecordLayout
    {
        guard !descriptions.isEmpty else {
            throw EBPFError(
                .decodingFailed,
                "libbcc recorded no struct submitted to '\(table)', so its records cannot be decoded by name. Submit a struct (\(table).perf_submit(ctx, &data, sizeof(data)) or \(table).ringbuf_output(&data, sizeof(data), 0)), or decode into a Swift struct with the `as:` overload"
            )
        }
        var fields: [FieldLayout] = []
        var offset = 0
        var largestAlignment = 1
        for description in descriptions {
            guard let separator = description.lastIndex(of: "#") else {
                throw EBPFError(
                    .decodingFailed,
                    "libbcc's field description \(NameValidation.quoted(description)) of '\(table)' has no '#'")
            }
            let name = String(description[..<separator])
            let typeName = String(description[description.index(after: separator)...])
            guard let type = CType(parsing: typeName) else {
                throw EBPFError(
                    .decodingFailed,
                    "field '\(name)' of the struct submitted to '\(table)' has type '\(typeName)', which the by-name decoder cannot size; use fixed-size integer, char array or pointer fields, or decode with the `as:` overload into a Swift struct of the same layout"
                )
            }
            offset = align(offset, to: type.alignment)
            largestAlignment = max(largestAlignment, type.alignment)
            guard offset + type.elementSize * (type.count ?? 1) <= maximumSize else {
                throw EBPFError(
                    .decodingFailed, "the struct submitted to '\(table)' is larger than \(maximumSize) bytes")
            }
            fields.append(
                FieldLayout(
                    name: name, offset: offset, elementSize: type.elementSize, count: type.count,
                    kind: type.kind))
            offset += type.elementSize * (type.count ?? 1)
        }
        let size = align(offset, to: largestAlignment)
        return interned
            ? RecordLayout.interned(fields: fields, size: size) : RecordLayout.unshared(fields: fields, size: size)
    }

    /// The largest struct the decoder lays out; BPF records are far smaller.
    package static let maximumSize = 1 << 24

    package static func align(_ value: Int, to alignment: Int) -> Int {
        (value + alignment - 1) / alignment * alignment
    }
}

/// A C type as clang spells it, reduced to what decoding needs.
package struct CType: Equatable {
    package var kind: FieldLayout.Kind
    package var elementSize: Int
    package var alignment: Int
    package var count: Int?

    /// Parses scalars, typedefs of the kernel and libc (`u32`, `__u64`, `pid_t`, `size_t`),
    /// enums, pointers and arrays (`char[16]`, `char [16]`, `int[2][3]`). Nil for anything
    /// else (structs, unions, unknown typedefs, function pointers).
    package init?(parsing spelling: String) {
        var text = spelling.trimmingBlanks()
        var count: Int?
        while text.hasSuffix("]") {
            guard let open = text.lastIndex(of: "["),
                let dimension = Int(text[text.index(after: open)..<text.index(before: text.endIndex)]),
                dimension >= 0
            else { return nil }
            let (product, overflow) = (count ?? 1).multipliedReportingOverflow(by: dimension)
            guard !overflow, product <= Self.maximumElements else { return nil }
            count = product
            text = String(text[..<open]).trimmingBlanks()
        }
        if text.contains("(") { return nil }
        if text.hasSuffix("*") {
            self.init(kind: .pointer, elementSize: 8, alignment: 8, count: count)
            return
        }
        let words = text.split(separator: " ").filter {
            $0 != "const" && $0 != "volatile" && $0 != "__attribute__"
        }
        if words.first == "enum" {
            self.init(kind: .signed, elementSize: 4, alignment: 4, count: count)
            return
        }
        guard let (kind, size) = Self.scalars[words.joined(separator: " ")] else { return nil }
        self.init(kind: kind, elementSize: size, alignment: size, count: count)
    }

    private init(kind: FieldLayout.Kind, elementSize: Int, alignment: Int, count: Int?) {
        self.kind = kind
        self.elementSize = elementSize
        self.alignment = alignment
        self.count = count
    }

    /// The most elements an array field may have (a record is at most a few pages).
    package static let maximumElements = 1 << 20

    /// Scalar spellings on the BPF target (LP64).
    package static let scalars: [String: (FieldLayout.Kind, Int)] = {
        var table: [String: (FieldLayout.Kind, Int)] = [:]
        func add(_ names: [String], _ kind: FieldLayout.Kind, _ size: Int) {
            for name in names { table[name] = (kind, size) }
        }
        add(["char", "signed char", "s8", "__s8", "int8_t"], .character, 1)
        add(["unsigned char", "u8", "__u8", "uint8_t"], .unsigned, 1)
        add(["_Bool", "bool"], .boolean, 1)
        add(["short", "short int", "signed short", "signed short int", "s16", "__s16", "int16_t"], .signed, 2)
        add(
            ["unsigned short", "unsigned short int", "u16", "__u16", "uint16_t", "__be16", "__le16", "umode_t"],
            .unsigned, 2)
        add(["int", "signed", "signed int", "s32", "__s32", "int32_t", "pid_t", "__kernel_pid_t"], .signed, 4)
        add(
            [
                "unsigned", "unsigned int", "u32", "__u32", "uint32_t", "__be32", "__le32", "uid_t", "gid_t",
                "__kernel_uid32_t", "__kernel_gid32_t", "dev_t", "gfp_t",
            ], .unsigned, 4)
        add(
            [
                "long", "long int", "signed long", "signed long int", "long long", "long long int", "signed long long",
                "signed long long int", "s64", "__s64", "int64_t", "ssize_t", "loff_t", "off_t", "ktime_t", "time64_t",
                "__kernel_ssize_t", "__kernel_loff_t",
            ], .signed, 8)
        add(
            [
                "unsigned long", "unsigned long int", "unsigned long long", "unsigned long long int", "u64", "__u64",
                "uint64_t", "size_t", "__be64", "__le64", "sector_t", "__kernel_size_t", "uintptr_t",
            ], .unsigned, 8)
        add(["float"], .floatingPoint, 4)
        add(["double"], .floatingPoint, 8)
        add(["__int128", "unsigned __int128", "__u128", "__s128"], .bytes, 16)
        return table
    }()
}
