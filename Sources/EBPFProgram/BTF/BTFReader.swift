import EBPFKernel

/// Reads raw BTF's header, sections and type records, checking every offset and count
/// against the bytes there are.
package struct BTFReader {
    package let bytes: [UInt8]

    package struct Header {
        package var typeOffset: Int
        package var typeLength: Int
        package var stringOffset: Int
        package var stringLength: Int
    }

    package static let magic: UInt16 = 0xEB9F

    private func failure(_ what: String) -> EBPFError {
        EBPFError(.decodingFailed, "not valid BTF: \(what)")
    }

    private func u32(_ at: Int) -> UInt32 {
        bytes[at..<at + 4].reversed().reduce(0) { $0 << 8 | UInt32($1) }
    }

    /// `struct btf_header`: magic, version 1, its own length, and the two sections'
    /// places, relative to the header's end.
    package mutating func header() throws(EBPFError) -> Header {
        guard bytes.count >= 24 else { throw failure("\(bytes.count) bytes, shorter than its header") }
        guard UInt16(bytes[0]) | UInt16(bytes[1]) << 8 == Self.magic else {
            throw failure("no magic number 0xeB9F (a big-endian BTF is not read)")
        }
        guard bytes[2] == 1 else { throw failure("version \(bytes[2]), not 1") }
        let headerLength = Int(u32(4))
        guard headerLength >= 24, headerLength <= bytes.count else { throw failure("header length \(headerLength)") }
        let header = Header(
            typeOffset: headerLength + Int(u32(8)), typeLength: Int(u32(12)),
            stringOffset: headerLength + Int(u32(16)), stringLength: Int(u32(20)))
        for (name, start, length) in [
            ("type", header.typeOffset, header.typeLength), ("string", header.stringOffset, header.stringLength),
        ] where start + length > bytes.count {
            throw failure("its \(name) section (\(length) bytes at \(start)) runs past its \(bytes.count) bytes")
        }
        guard header.typeLength % 4 == 0, header.typeOffset % 4 == 0 else {
            throw failure("its type section is not made of 4-byte words")
        }
        return header
    }

    package func typeWords(_ header: Header) throws(EBPFError) -> [UInt32] {
        stride(from: header.typeOffset, to: header.typeOffset + header.typeLength, by: 4).map(u32)
    }

    package func strings(_ header: Header) throws(EBPFError) -> [UInt8] {
        let strings = Array(bytes[header.stringOffset..<header.stringOffset + header.stringLength])
        guard strings.isEmpty || strings.last == 0 else { throw failure("its string section does not end in NUL") }
        return strings
    }

    /// The type record at word `index` of `words`, moving `index` past it and its data.
    package static func record(
        in words: [UInt32], at index: inout Int, number: Int, stringsSize: Int
    ) throws(EBPFError) -> BTF.Record {
        func failure(_ what: String) -> EBPFError {
            EBPFError(.decodingFailed, "not valid BTF: type \(number) (at byte \(index * 4) of its types): \(what)")
        }
        guard index + 3 <= words.count else { throw failure("a type record cut short") }
        let nameOffset = words[index]
        let info = words[index + 1]
        let sizeOrType = words[index + 2]
        guard Int(nameOffset) < max(1, stringsSize) else { throw failure("name offset \(nameOffset) out of range") }
        guard let kind = BTF.Kind(rawValue: UInt8((info >> 24) & 0x1F)) else {
            throw failure("unknown kind \((info >> 24) & 0x1F)")
        }
        let count = Int(info & 0xFFFF)
        let data = index + 3
        let end = data + dataWords(of: kind, count: count)
        guard end <= words.count else { throw failure("its \(count) entries run past the type section") }
        index = end
        return BTF.Record(
            kind: kind, nameOffset: nameOffset, count: count, kindFlag: info >> 31 != 0, sizeOrType: sizeOrType,
            data: data)
    }

    /// How many words follow a record's three: fixed ones, and `count` entries'.
    private static func dataWords(of kind: BTF.Kind, count: Int) -> Int {
        let wordsPerEntry: Int
        let fixedWords: Int
        switch kind {
        case .integer: (fixedWords, wordsPerEntry) = (1, 0)
        case .array: (fixedWords, wordsPerEntry) = (3, 0)
        case .structure, .union: (fixedWords, wordsPerEntry) = (0, 3)
        case .enumeration: (fixedWords, wordsPerEntry) = (0, 2)
        case .functionPrototype: (fixedWords, wordsPerEntry) = (0, 2)
        case .variable: (fixedWords, wordsPerEntry) = (1, 0)
        case .dataSection: (fixedWords, wordsPerEntry) = (0, 3)
        case .declarationTag: (fixedWords, wordsPerEntry) = (1, 0)
        case .enumeration64: (fixedWords, wordsPerEntry) = (0, 3)
        case .pointer, .forward, .typedef, .volatile, .const, .restrict, .function, .float, .typeTag:
            (fixedWords, wordsPerEntry) = (0, 0)
        }
        return fixedWords + wordsPerEntry * count
    }

    /// The byte offset of `member` in the struct named `structure`, found in one pass over
    /// the type records without building them (the kernel's BTF is about 6 MB, and
    /// ``BTF/init(parsing:)`` takes longer than a probe's whole start); nil when no such
    /// struct has such a member, or the BTF is malformed.
    package static func memberOffset(of member: String, in structure: String, bytes: [UInt8]) -> Int? {
        var reader = BTFReader(bytes: bytes)
        guard let header = try? reader.header() else { return nil }
        let strings = header.stringOffset..<header.stringOffset + header.stringLength
        return bytes.withUnsafeBytes { raw -> Int? in
            func word(_ index: Int) -> UInt32 {
                UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: header.typeOffset + 4 * index, as: UInt32.self))
            }
            /// Whether the string at `offset` is `name`.
            func names(_ offset: UInt32, _ name: String) -> Bool {
                var at = strings.lowerBound + Int(offset)
                for byte in name.utf8 {
                    guard at < strings.upperBound, raw[at] == byte else { return false }
                    at += 1
                }
                return at < strings.upperBound && raw[at] == 0
            }
            let count = header.typeLength / 4
            var index = 0
            while index + 3 <= count {
                let info = word(index + 1)
                guard let kind = BTF.Kind(rawValue: UInt8((info >> 24) & 0x1F)) else { return nil }
                let entries = Int(info & 0xFFFF)
                let data = index + 3
                index = data + dataWords(of: kind, count: entries)
                guard kind == .structure, index <= count, names(word(data - 3), structure) else { continue }
                for entry in 0..<entries where names(word(data + 3 * entry), member) {
                    let offset = word(data + 3 * entry + 2)
                    // With the kind flag, the low 24 bits are the offset and the high 8 a bitfield's size.
                    return Int(info >> 31 != 0 ? offset & 0xFF_FFFF : offset) / 8
                }
            }
            return nil
        }
    }
}
