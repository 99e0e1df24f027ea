#if canImport(Glibc)
import Glibc
#endif
import EBPFKernel

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
        // Parsed as bytes: kernel text is ASCII, and Character-based splitting and trimming
        // cost several times the rest of a probe's start.
        let bytes = Array(text.utf8)
        for (index, rawLine) in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
            .enumerated()
        {
            let line = rawLine.trimmingBlankBytes()
            if line.starts(with: "ID:".utf8) {
                id = line.dropFirst(3).trimmingBlankBytes().decimalValue
            } else if line.starts(with: "field:".utf8) {
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
        // Opened straight away (each lookup in tracefs costs a probe's start time); only a
        // failed open looks further, to say what is missing.
        let path = try Tracefs.tracepointPath(category: category, name: name) + "/format"
        let bytes: [UInt8]
        do throws(SystemCallFailure) {
            bytes = try FileDescriptor.open(path, O_RDONLY).readToEnd()
        } catch  where error.errno == ENOENT {
            _ = try Tracefs.tracepointDirectory(category: category, name: name)
            throw EBPFError(
                .notFound,
                "the tracepoint \(category):\(name) has no format file (\(path)), so its fields are unknown; attach your own C with attachTracepoint(tp:fnName:)"
            )
        } catch {
            throw error.error(.systemCallFailed, "could not \(error.call) \(path)")
        }
        return try TracepointFormat(category: category, name: name, parsing: String(decoding: bytes, as: UTF8.self))
    }

    /// Parses `field:<declaration>;\toffset:N;\tsize:N;\tsigned:N;`.
    private static func parseField(
        _ line: ArraySlice<UInt8>, lineNumber: Int, event: String
    ) throws(EBPFError) -> Field {
        func malformed(_ why: String) -> EBPFError {
            EBPFError(
                .invalidFormat,
                "line \(lineNumber) of the format of \(event) is malformed (\(why)): \(NameValidation.quoted(line.text))"
            )
        }
        var declaration: ArraySlice<UInt8>?
        var offsetText: ArraySlice<UInt8>?
        var sizeText: ArraySlice<UInt8>?
        var signedText: ArraySlice<UInt8>?
        for part in line.split(separator: UInt8(ascii: ";")) {
            let item = part.trimmingBlankBytes()
            guard !item.isEmpty else { continue }
            guard let colon = item.firstIndex(of: UInt8(ascii: ":")) else {
                throw malformed("'\(item.text)' has no ':'")
            }
            let key = item[..<colon]
            let value = item[(colon + 1)...].trimmingBlankBytes()
            if key.elementsEqual("field".utf8) {
                declaration = value
            } else if key.elementsEqual("offset".utf8) {
                offsetText = value
            } else if key.elementsEqual("size".utf8) {
                sizeText = value
            } else if key.elementsEqual("signed".utf8) {
                signedText = value
            }
        }
        guard var text = declaration, !text.isEmpty else { throw malformed("no declaration") }
        guard let offset = offsetText?.decimalValue else { throw malformed("no valid offset") }
        guard let size = sizeText?.decimalValue else { throw malformed("no valid size") }
        guard offset <= maximumRecordSize, size <= maximumRecordSize, offset + size <= maximumRecordSize else {
            throw malformed("offset + size beyond \(maximumRecordSize)")
        }
        let isSigned = signedText?.elementsEqual("1".utf8) ?? false

        var isDynamic = false
        if text.starts(with: "__data_loc ".utf8) {
            isDynamic = true
            text = text.dropFirst("__data_loc ".utf8.count).trimmingBlankBytes()
        }
        // An array suffix after the name: "char comm[16]".
        var arrayLength: Int?
        if text.last == UInt8(ascii: "]"), let open = text.lastIndex(of: UInt8(ascii: "[")) {
            let inside = text[(open + 1)..<(text.endIndex - 1)]
            let beforeBracket = text[..<open]
            if let last = beforeBracket.last, isNameByte(last) {
                guard let length = inside.decimalValue, length > 0 else {
                    throw malformed("array length '\(inside.text)'")
                }
                arrayLength = length
                text = beforeBracket
            }
        }
        let nameStart = text.lastIndex { !isNameByte($0) }.map { $0 + 1 } ?? text.startIndex
        guard nameStart < text.endIndex else { throw malformed("no field name") }
        let name = text[nameStart...].text
        do {
            try NameValidation.identifier(name, what: "field name")
        } catch {
            throw malformed(error.message)
        }
        let typeBytes = text[..<nameStart].trimmingBlankBytes()
        guard !typeBytes.isEmpty else { throw malformed("no type for '\(name)'") }
        guard typeBytes.allSatisfy({ isASCIIAlphanumeric($0) || " _*[]".utf8.contains($0) }) else {
            throw malformed("the type '\(typeBytes.text)' has characters no C type has")
        }
        var type = typeBytes.text
        if let arrayLength {
            type += "[\(arrayLength)]"
            if size % arrayLength != 0 { throw malformed("size \(size) is not a multiple of \(arrayLength) elements") }
        }
        return Field(
            name: name, type: type, offset: offset, size: size, isSigned: isSigned,
            arrayLength: arrayLength, isDynamic: isDynamic)
    }
}

/// Whether `byte` can be part of a field name: an ASCII letter, digit or underscore.
private func isNameByte(_ byte: UInt8) -> Bool {
    isASCIIAlphanumeric(byte) || byte == UInt8(ascii: "_")
}

extension ArraySlice<UInt8> {
    /// The bytes as a non-negative decimal number of at most 18 digits; nil otherwise.
    fileprivate var decimalValue: Int? {
        guard !isEmpty, count <= 18 else { return nil }
        var value = 0
        for byte in self {
            guard NameValidation.isDigit(byte) else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value
    }

    fileprivate var text: String { String(decoding: self, as: UTF8.self) }
}

private func isASCIIAlphanumeric(_ byte: UInt8) -> Bool {
    NameValidation.isLetter(byte) || NameValidation.isDigit(byte)
}
