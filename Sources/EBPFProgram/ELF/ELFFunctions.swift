#if canImport(Glibc)
import Glibc
#endif
import EBPFKernel

/// A function symbol an ELF file defines.
package struct ELFFunction: Sendable, Hashable {
    /// The name as the file spells it: a C name, a mangled Swift (`$s…`) or C++ (`_Z…`)
    /// name. A versioned name has no `@version` (the part from the first `@` is dropped).
    package let symbol: String
    /// The symbol's value (`st_value`): the function's virtual address as linked.
    package let address: UInt64
    /// The symbol's size (`st_size`); 0 when the file does not say.
    package let size: UInt64
    /// Where the function's code lies in the file: `address - p_vaddr + p_offset` of the
    /// executable `PT_LOAD` segment holding it. What a uprobe takes.
    package let fileOffset: UInt64
    /// Whether the symbol is `STB_GLOBAL` or `STB_WEAK` (seen from outside the file).
    package let isGlobal: Bool
    /// Whether it is an indirect function (`STT_GNU_IFUNC`): its code is a resolver, run
    /// once when the program is loaded to choose the implementation calls then reach
    /// (glibc's `strlen`, `memcpy`).
    package let isIndirect: Bool

    package init(
        symbol: String, address: UInt64, size: UInt64, fileOffset: UInt64, isGlobal: Bool, isIndirect: Bool = false
    ) {
        self.symbol = symbol
        self.address = address
        self.size = size
        self.fileOffset = fileOffset
        self.isGlobal = isGlobal
        self.isIndirect = isIndirect
    }
}

/// The functions an ELF file defines, read from its symbol tables (`.symtab` and `.dynsym`)
/// without libbcc or libelf.
///
/// The file is untrusted: every offset, count and entry size is checked against the file's
/// size before anything is read, arithmetic never traps, and names are bounded. Tables are
/// read whole, so a large binary costs a few reads.
package enum ELFFunctions {
    /// The longest symbol name read; longer ones are skipped.
    package static let maximumNameLength = 4096

    /// The largest table (program headers, section headers, a symbol or string table) read.
    static let maximumTableSize: UInt64 = 1 << 30

    /// The defined functions (`STT_FUNC` and `STT_GNU_IFUNC` symbols not `SHN_UNDEF`, whose
    /// address lies in the file part of an executable `PT_LOAD` segment) of a 64-bit
    /// little-endian ELF file's `.symtab` and `.dynsym`, each (symbol, address) once, sorted
    /// by address, then symbol. Names that are empty, longer than ``maximumNameLength`` bytes
    /// or not UTF-8 are skipped.
    ///
    /// - Parameters:
    ///   - size: The file's size in bytes.
    ///   - reading: Reads `count` bytes at `offset`; fewer at the end of the file.
    /// - Throws: ``EBPFError/Code/invalidFormat`` when the file is not a 64-bit
    ///   little-endian ELF file or a table lies outside it; what `reading` throws.
    package static func read(
        size: UInt64, reading: (_ offset: UInt64, _ count: Int) throws(EBPFError) -> [UInt8]
    ) throws(EBPFError) -> [ELFFunction] {
        let file = File(size: size)
        let notELF = EBPFError(.invalidFormat, "not a 64-bit little-endian ELF file")
        guard size >= 64 else { throw notELF }
        let header = try file.bytes(at: 0, count: 64, what: "ELF header", reading)
        // \x7FELF, ELFCLASS64, ELFDATA2LSB.
        guard header[0..<6].elementsEqual([0x7F, 0x45, 0x4C, 0x46, 2, 1]) else { throw notELF }

        let segments = try file.entries(
            at: header.load(UInt64.self, at: 0x20), count: UInt64(header.load(UInt16.self, at: 0x38)),
            entrySize: header.load(UInt16.self, at: 0x36), minimum: 56, what: "program header table", reading
        ).compactMap(Segment.init)
        let sections = try file.sectionHeaders(header, reading).map(Section.init)

        var functions: [ELFFunction] = []
        for section in sections where section.type == .symbolTable || section.type == .dynamicSymbols {
            let what = section.type == .symbolTable ? ".symtab" : ".dynsym"
            guard section.link < sections.count else {
                throw EBPFError(.invalidFormat, "the \(what) names string table \(section.link), which does not exist")
            }
            let strings = sections[section.link]
            // An entry larger than the table: no entries, whatever its size.
            guard section.size > 0, section.entrySize <= section.size else { continue }
            guard section.entrySize >= 24 else {
                throw EBPFError(.invalidFormat, "the \(what) entry size \(section.entrySize) is below 24 bytes")
            }
            // A partial last entry is ignored.
            let symbols = try file.table(
                at: section.offset, count: section.size / section.entrySize, entrySize: section.entrySize,
                minimum: 24, what: what, reading)
            let names = try file.bytes(at: strings.offset, count: strings.size, what: "\(what) string table", reading)
            // Read through pointers: a large binary has hundreds of thousands of symbols.
            symbols.withUnsafeBytes { symbols in
                names.withUnsafeBytes { names in
                    let entrySize = Int(section.entrySize)
                    for entry in stride(from: 0, to: symbols.count, by: entrySize) {
                        if let function = function(symbols, at: entry, names: names, segments: segments, fileSize: size)
                        {
                            functions.append(function)
                        }
                    }
                }
            }
        }
        sortOncePerSymbolAndAddress(&functions)
        return functions
    }

    /// The functions of the ELF file open as `file` (see ``read(size:reading:)``).
    ///
    /// - Throws: ``EBPFError/Code/invalidFormat`` for a file that is not a 64-bit
    ///   little-endian ELF file or is cut short; an error from `fstat` or `pread`.
    package static func read(_ file: borrowing FileDescriptor) throws(EBPFError) -> [ELFFunction] {
        let size: UInt64
        do throws(SystemCallFailure) {
            size = try file.size()
        } catch {
            throw error.error(.systemCallFailed, "could not read the size of the ELF file")
        }
        return try read(size: size) { (offset, count) throws(EBPFError) in
            do throws(SystemCallFailure) {
                return try file.read(at: offset, count: count)
            } catch {
                throw error.error(.systemCallFailed, "could not read the ELF file")
            }
        }
    }

    /// The file's size, and reads that stay inside it.
    private struct File {
        let size: UInt64

        /// The `count` bytes at `offset`, which must lie inside the file.
        func bytes(
            at offset: UInt64, count: UInt64, what: String,
            _ reading: (_ offset: UInt64, _ count: Int) throws(EBPFError) -> [UInt8]
        ) throws(EBPFError) -> [UInt8] {
            let (end, overflow) = offset.addingReportingOverflow(count)
            guard !overflow, end <= size else {
                throw EBPFError(
                    .invalidFormat,
                    "the \(what) (\(count) bytes at offset \(offset)) lies past the end of the \(size)-byte file")
            }
            guard count <= maximumTableSize else {
                throw EBPFError(
                    .invalidFormat, "the \(what) is \(count) bytes long; at most \(maximumTableSize) are read")
            }
            guard count > 0 else { return [] }
            let bytes = try reading(offset, Int(count))
            guard bytes.count == Int(count) else {
                throw EBPFError(
                    .invalidFormat, "the file ended inside the \(what) (\(count) bytes at offset \(offset))")
            }
            return bytes
        }

        /// A table of `count` entries of `entrySize` bytes (at least `minimum`) at `offset`.
        func table(
            at offset: UInt64, count: UInt64, entrySize: UInt64, minimum: UInt64, what: String,
            _ reading: (_ offset: UInt64, _ count: Int) throws(EBPFError) -> [UInt8]
        ) throws(EBPFError) -> [UInt8] {
            guard count > 0 else { return [] }
            guard entrySize >= minimum else {
                throw EBPFError(.invalidFormat, "the \(what) entry size \(entrySize) is below \(minimum) bytes")
            }
            let (length, overflow) = count.multipliedReportingOverflow(by: entrySize)
            guard !overflow else {
                throw EBPFError(.invalidFormat, "the \(what) (\(count) entries of \(entrySize) bytes) is too large")
            }
            return try self.bytes(at: offset, count: length, what: what, reading)
        }

        /// The table's entries, each a slice of `entrySize` bytes.
        func entries(
            at offset: UInt64, count: UInt64, entrySize: UInt16, minimum: UInt64, what: String,
            _ reading: (_ offset: UInt64, _ count: Int) throws(EBPFError) -> [UInt8]
        ) throws(EBPFError) -> [ArraySlice<UInt8>] {
            let bytes = try table(
                at: offset, count: count, entrySize: UInt64(entrySize), minimum: minimum, what: what, reading)
            let step = Int(entrySize)
            return stride(from: 0, to: bytes.count, by: max(1, step)).map { bytes[$0..<($0 + step)] }
        }

        /// The section header table: `e_shnum` entries, or when that is 0 (more than it
        /// holds) as many as the first entry's `sh_size`.
        func sectionHeaders(
            _ header: [UInt8], _ reading: (_ offset: UInt64, _ count: Int) throws(EBPFError) -> [UInt8]
        ) throws(EBPFError) -> [ArraySlice<UInt8>] {
            let offset = header.load(UInt64.self, at: 0x28)
            guard offset != 0 else { return [] }
            let entrySize = header.load(UInt16.self, at: 0x3A)
            var count = UInt64(header.load(UInt16.self, at: 0x3C))
            if count == 0 {
                let first = try entries(
                    at: offset, count: 1, entrySize: entrySize, minimum: 64, what: "section header table", reading)
                count = first[0].load(UInt64.self, at: 32)
            }
            return try entries(
                at: offset, count: count, entrySize: entrySize, minimum: 64, what: "section header table", reading)
        }
    }

    /// An executable `PT_LOAD` segment: where its file bytes are mapped.
    private struct Segment {
        var address: UInt64
        var fileSize: UInt64
        var offset: UInt64

        /// The program header `entry` if it is an executable `PT_LOAD`.
        init?(_ entry: ArraySlice<UInt8>) {
            // PT_LOAD with PF_X.
            guard entry.load(UInt32.self, at: 0) == 1, entry.load(UInt32.self, at: 4) & 1 != 0 else { return nil }
            offset = entry.load(UInt64.self, at: 8)
            address = entry.load(UInt64.self, at: 16)
            fileSize = entry.load(UInt64.self, at: 32)
        }

        /// Where the code at `address` lies in the file, if in the part of the segment the
        /// file holds.
        func fileOffset(of address: UInt64) -> UInt64? {
            guard address >= self.address, address - self.address < fileSize else { return nil }
            let (fileOffset, overflow) = (address - self.address).addingReportingOverflow(offset)
            return overflow ? nil : fileOffset
        }
    }

    private struct Section {
        enum Kind { case symbolTable, dynamicSymbols, other }

        var type: Kind
        var offset: UInt64
        var size: UInt64
        /// The section it links to (a symbol table's string table).
        var link: Int
        var entrySize: UInt64

        init(_ entry: ArraySlice<UInt8>) {
            type =
                switch entry.load(UInt32.self, at: 4) {
                case 2: .symbolTable  // SHT_SYMTAB
                case 11: .dynamicSymbols  // SHT_DYNSYM
                default: .other
                }
            offset = entry.load(UInt64.self, at: 24)
            size = entry.load(UInt64.self, at: 32)
            link = Int(entry.load(UInt32.self, at: 40))
            entrySize = entry.load(UInt64.self, at: 56)
        }
    }

    /// The function the symbol table entry at `entry` of `symbols` defines, if it defines one: a function
    /// (`STT_FUNC`, `STT_GNU_IFUNC`) in a section (not `SHN_UNDEF`), whose code lies in an
    /// executable segment's part of the file, with a name.
    private static func function(
        _ symbols: UnsafeRawBufferPointer, at entry: Int, names: UnsafeRawBufferPointer, segments: [Segment],
        fileSize: UInt64
    ) -> ELFFunction? {
        let info = symbols[entry + 4]
        guard info & 0xF == 2 || info & 0xF == 10, symbols.load(UInt16.self, at: entry + 6) != 0 else { return nil }
        let address = symbols.load(UInt64.self, at: entry + 8)
        var fileOffset: UInt64?
        for segment in segments where fileOffset == nil {
            fileOffset = segment.fileOffset(of: address)
        }
        guard let fileOffset, fileOffset < fileSize,
            let name = symbolName(names, at: symbols.load(UInt32.self, at: entry))
        else { return nil }
        // STB_GLOBAL, STB_WEAK.
        let binding = info >> 4
        return ELFFunction(
            symbol: name, address: address, size: symbols.load(UInt64.self, at: entry + 16), fileOffset: fileOffset,
            isGlobal: binding == 1 || binding == 2, isIndirect: info & 0xF == 10)
    }

    /// Sorts `functions` by address, then symbol, and keeps each (symbol, address) once: of
    /// one in both tables, the global one.
    private static func sortOncePerSymbolAndAddress(_ functions: inout [ELFFunction]) {
        functions.sort { left, right in
            if left.address != right.address { return left.address < right.address }
            if left.symbol != right.symbol { return left.symbol < right.symbol }
            return left.isGlobal && !right.isGlobal
        }
        var kept = 0
        for index in functions.indices {
            if kept > 0, functions[kept - 1].address == functions[index].address,
                functions[kept - 1].symbol == functions[index].symbol
            {
                continue
            }
            functions.swapAt(kept, index)
            kept += 1
        }
        functions.removeSubrange(kept...)
    }

    /// The NUL-terminated name at `offset` of a string table, without any `@version`; nil
    /// when it is empty, unterminated within ``maximumNameLength`` bytes or not UTF-8.
    private static func symbolName(_ strings: UnsafeRawBufferPointer, at offset: UInt32) -> String? {
        let offset = Int(offset)
        guard offset < strings.count, let base = strings.baseAddress else { return nil }
        let start = base + offset
        let length = strnlen(
            start.assumingMemoryBound(to: CChar.self), min(strings.count - offset, maximumNameLength + 1))
        guard length <= maximumNameLength, offset + length < strings.count else { return nil }
        let end = memchr(start, Int32(UInt8(ascii: "@")), length).map { UnsafeRawPointer($0) - start } ?? length
        guard end > 0 else { return nil }
        return String(
            validating: UnsafeBufferPointer(start: start.assumingMemoryBound(to: UInt8.self), count: end), as: UTF8.self
        )
    }
}

extension UnsafeRawBufferPointer {
    /// The little-endian integers at `offset`; the caller has checked the bounds.
    /// (Not generic: unspecialized in debug builds, a generic load is several times slower.)
    fileprivate func load(_: UInt16.Type, at offset: Int) -> UInt16 {
        UInt16(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    fileprivate func load(_: UInt32.Type, at offset: Int) -> UInt32 {
        UInt32(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    fileprivate func load(_: UInt64.Type, at offset: Int) -> UInt64 {
        UInt64(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }
}

extension ArraySlice<UInt8> {
    /// The little-endian integers at `offset` from the start; the caller has checked the bounds.
    fileprivate func load(_: UInt16.Type, at offset: Int) -> UInt16 {
        withUnsafeBytes { $0.load(UInt16.self, at: offset) }
    }

    fileprivate func load(_: UInt32.Type, at offset: Int) -> UInt32 {
        withUnsafeBytes { $0.load(UInt32.self, at: offset) }
    }

    fileprivate func load(_: UInt64.Type, at offset: Int) -> UInt64 {
        withUnsafeBytes { $0.load(UInt64.self, at: offset) }
    }
}

extension [UInt8] {
    /// The little-endian integers at `offset`; the caller has checked the bounds.
    fileprivate func load(_: UInt16.Type, at offset: Int) -> UInt16 {
        withUnsafeBytes { $0.load(UInt16.self, at: offset) }
    }

    fileprivate func load(_: UInt64.Type, at offset: Int) -> UInt64 {
        withUnsafeBytes { $0.load(UInt64.self, at: offset) }
    }
}
