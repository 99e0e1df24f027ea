/// A tracepoint's record as the kernel describes it in `<tracefs>/events/<category>/<name>/format`.
///
/// A plain value: parse it from text (``init(category:name:parsing:)``, no kernel needed) or
/// read it from tracefs (``load(category:name:)``). The generated closure probes are built
/// from it; printing ``fields`` shows what a probe's events will carry.
public struct TracepointFormat: Sendable, Hashable {
    /// One `field:` line of the format file.
    public struct Field: Sendable, Hashable, CustomStringConvertible {
        /// The field's name, e.g. `filename`.
        public var name: String
        /// The declared C type without the name: `const char *`, `char[16]`, `pid_t`; for
        /// `__data_loc` fields the element type, e.g. `char[]`.
        public var type: String
        /// Byte offset in the tracepoint's raw record.
        public var offset: Int
        /// Size in bytes in the raw record (syscall arguments are always 8).
        public var size: Int
        public var isSigned: Bool
        /// Elements of a fixed array field (`char comm[16]` → 16); nil otherwise.
        public var arrayLength: Int?
        /// Whether the field is `__data_loc`: a 32-bit (length << 16 | offset) locating
        /// variable-length data later in the record.
        public var isDynamic: Bool

        public var description: String {
            "\(isDynamic ? "__data_loc " : "")\(type) \(name)\(arrayLength.map { "[\($0)]" } ?? "") (offset \(offset), size \(size), \(isSigned ? "signed" : "unsigned"))"
        }
    }

    public var category: String
    public var name: String
    /// The tracepoint's id (the `ID:` line), used by perf.
    public var id: Int?
    /// The event's own fields, in record order, without the `common_*` header fields and a
    /// syscall tracepoint's `__syscall_nr`.
    public var fields: [Field]
    /// The `common_*` fields every tracepoint record starts with.
    public var commonFields: [Field]

    /// The largest record the parser accepts; tracepoint records fit in a page.
    static let maximumRecordSize = 1 << 16

    /// Parses the text of a format file.
    ///
    /// - Throws: ``EBPFError/Code/invalidFormat`` naming the line that is malformed.
    public init(category: String, name: String, parsing text: String) throws(EBPFError) {
        self.category = category
        self.name = name
        self.id = nil
        self.fields = []
        self.commonFields = []
        var sawField = false
        // Split as bytes: kernel text is ASCII, and splitting by character cost more than the
        // rest of the parse.
        let lines = text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        for (index, rawLine) in lines.enumerated() {
            let line = Substring(rawLine).trimmingBlanks()
            if line.hasPrefix("ID:") {
                id = Int(line.dropFirst(3).trimmingBlanks())
            } else if line.hasPrefix("field:") {
                let field = try Self.parseField(line, lineNumber: index + 1, event: "\(category):\(name)")
                sawField = true
                if field.name.hasPrefix("common_") {
                    commonFields.append(field)
                } else if !(category == "syscalls" && field.name == "__syscall_nr") {
                    fields.append(field)
                }
            }
        }
        guard sawField else {
            throw EBPFError(
                .invalidFormat,
                "the format of \(category):\(name) has no 'field:' lines; is it a tracepoint format file?")
        }
    }

    /// Reads and parses the format of `category:name` from tracefs.
    ///
    /// - Throws: ``EBPFError/Code/invalidArgument`` for a malformed name,
    ///   ``EBPFError/Code/notFound`` for a tracepoint the kernel lacks (or one without a
    ///   format file), ``EBPFError/Code/tracefsUnavailable``, ``EBPFError/Code/invalidFormat``.
    public static func load(category: String, name: String) throws(EBPFError) -> TracepointFormat {
        let directory = try Tracefs.tracepointDirectory(category: category, name: name)
        let path = directory + "/format"
        guard SystemFiles.exists(path) else {
            throw EBPFError(
                .notFound,
                "the tracepoint \(category):\(name) has no format file (\(path)), so its fields are unknown; attach your own C with attachTracepoint(tp:fnName:)"
            )
        }
        return try TracepointFormat(category: category, name: name, parsing: SystemFiles.readText(path))
    }

    /// Parses `field:<declaration>;\toffset:N;\tsize:N;\tsigned:N;`.
    private static func parseField(_ line: String, lineNumber: Int, event: String) throws(EBPFError) -> Field {
        func malformed(_ why: String) -> EBPFError {
            EBPFError(
                .invalidFormat,
                "line \(lineNumber) of the format of \(event) is malformed (\(why)): \(NameValidation.quoted(line))")
        }
        var declaration: String?
        var offsetText: String?
        var sizeText: String?
        var signedText: String?
        for part in line.utf8.split(separator: UInt8(ascii: ";")) {
            let item = Substring(part).trimmingBlanks()
            guard !item.isEmpty else { continue }
            guard let colon = item.utf8.firstIndex(of: UInt8(ascii: ":")) else {
                throw malformed("'\(item)' has no ':'")
            }
            let value = String(item[item.utf8.index(after: colon)...])
            switch item[..<colon] {
            case "field": declaration = value
            case "offset": offsetText = value
            case "size": sizeText = value
            case "signed": signedText = value
            default: break
            }
        }
        guard let declaration, !declaration.isEmpty else { throw malformed("no declaration") }
        guard let offset = offsetText.flatMap({ Int($0) }), offset >= 0 else {
            throw malformed("no valid offset")
        }
        guard let size = sizeText.flatMap({ Int($0) }), size >= 0 else {
            throw malformed("no valid size")
        }
        guard offset <= maximumRecordSize, size <= maximumRecordSize, offset + size <= maximumRecordSize else {
            throw malformed("offset + size beyond \(maximumRecordSize)")
        }
        let isSigned = signedText == "1"

        var text = declaration.trimmingBlanks()
        var isDynamic = false
        if text.hasPrefix("__data_loc ") {
            isDynamic = true
            text = String(text.dropFirst("__data_loc ".count)).trimmingBlanks()
        }
        // An array suffix after the name: "char comm[16]".
        var arrayLength: Int?
        if text.hasSuffix("]"), let open = text.lastIndex(of: "[") {
            let inside = text[text.index(after: open)..<text.index(before: text.endIndex)]
            let beforeBracket = text[..<open]
            if let last = beforeBracket.last, Self.isNameCharacter(last) {
                guard let length = Int(inside), length > 0 else { throw malformed("array length '\(inside)'") }
                arrayLength = length
                text = String(beforeBracket)
            }
        }
        guard
            let nameStart = text.lastIndex(where: { !Self.isNameCharacter($0) }).map(
                text.index(after:)) ?? (text.isEmpty ? nil : text.startIndex),
            nameStart < text.endIndex
        else { throw malformed("no field name") }
        let name = String(text[nameStart...])
        do {
            try NameValidation.identifier(name, what: "field name")
        } catch {
            throw malformed(error.message)
        }
        var type = String(text[..<nameStart]).trimmingBlanks()
        if type.isEmpty { throw malformed("no type for '\(name)'") }
        let typeCharacters = type.unicodeScalars.allSatisfy {
            $0.isASCII && (isASCIIAlphanumeric(UInt8($0.value)) || " _*[]".unicodeScalars.contains($0))
        }
        guard typeCharacters else { throw malformed("the type '\(type)' has characters no C type has") }
        if let arrayLength {
            type += "[\(arrayLength)]"
            if size % arrayLength != 0 { throw malformed("size \(size) is not a multiple of \(arrayLength) elements") }
        }
        return Field(
            name: name, type: type, offset: offset, size: size, isSigned: isSigned,
            arrayLength: arrayLength, isDynamic: isDynamic)
    }

    /// Whether `character` can be part of a field name: a letter, digit or underscore,
    /// decided from the byte for ASCII (grapheme properties are slow; kernel text is ASCII).
    private static func isNameCharacter(_ character: Character) -> Bool {
        if let byte = character.asciiValue { return isASCIIAlphanumeric(byte) || byte == UInt8(ascii: "_") }
        return character.isLetter || character.isNumber
    }
}

private func isASCIIAlphanumeric(_ byte: UInt8) -> Bool {
    NameValidation.isLetter(byte) || NameValidation.isDigit(byte)
}
