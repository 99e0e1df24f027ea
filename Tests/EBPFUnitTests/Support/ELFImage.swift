/// A small 64-bit little-endian ELF file built in memory, for the tests of the symbol-table
/// reader: program headers, then `.symtab` and `.dynsym` with their string tables, then the
/// section headers, the file padded to cover every segment.
struct ELFImage {
    struct Segment {
        var type: UInt32 = 1  // PT_LOAD
        var flags: UInt32 = 5  // PF_R | PF_X
        var offset: UInt64
        var address: UInt64
        var fileSize: UInt64
    }

    struct Symbol {
        var name: [UInt8]
        var type: UInt8 = 2  // STT_FUNC
        var binding: UInt8 = 1  // STB_GLOBAL
        var section: UInt16 = 1
        var value: UInt64
        var size: UInt64 = 16

        init(
            _ name: String, type: UInt8 = 2, binding: UInt8 = 1, section: UInt16 = 1, value: UInt64,
            size: UInt64 = 16
        ) {
            self.init(bytes: Array(name.utf8), type: type, binding: binding, section: section, value: value, size: size)
        }

        init(bytes: [UInt8], type: UInt8 = 2, binding: UInt8 = 1, section: UInt16 = 1, value: UInt64, size: UInt64 = 16)
        {
            self.name = bytes
            self.type = type
            self.binding = binding
            self.section = section
            self.value = value
            self.size = size
        }
    }

    var segments: [Segment]
    var symbols: [Symbol] = []
    var dynamicSymbols: [Symbol] = []

    /// Where the tables lie in ``bytes``, for tests that damage them.
    struct Layout {
        var programHeaders = 0
        var symbolTable = 0
        var strings = 0
        var dynamicSymbolTable = 0
        var dynamicStrings = 0
        var sectionHeaders = 0
    }

    var layout: Layout { build().layout }
    var bytes: [UInt8] { build().bytes }

    private func build() -> (bytes: [UInt8], layout: Layout) {
        var layout = Layout()
        var file = [UInt8](repeating: 0, count: 64)
        layout.programHeaders = file.count
        for segment in segments {
            file.append(littleEndian: segment.type)
            file.append(littleEndian: segment.flags)
            file.append(littleEndian: segment.offset)
            file.append(littleEndian: segment.address)
            file.append(littleEndian: segment.address)  // p_paddr
            file.append(littleEndian: segment.fileSize)
            file.append(littleEndian: segment.fileSize)  // p_memsz
            file.append(littleEndian: UInt64(0x1000))
        }
        func table(_ symbols: [Symbol]) -> (entries: [UInt8], strings: [UInt8]) {
            var entries = [UInt8](repeating: 0, count: 24)  // the null symbol
            var strings: [UInt8] = [0]
            for symbol in symbols {
                entries.append(littleEndian: UInt32(strings.count))
                entries.append(littleEndian: symbol.binding << 4 | symbol.type)
                entries.append(littleEndian: UInt8(0))
                entries.append(littleEndian: symbol.section)
                entries.append(littleEndian: symbol.value)
                entries.append(littleEndian: symbol.size)
                strings += symbol.name + [0]
            }
            return (entries, strings)
        }
        let symbolTable = table(symbols)
        let dynamicTable = table(dynamicSymbols)
        layout.symbolTable = file.count
        file += symbolTable.entries
        layout.strings = file.count
        file += symbolTable.strings
        layout.dynamicSymbolTable = file.count
        file += dynamicTable.entries
        layout.dynamicStrings = file.count
        file += dynamicTable.strings
        let segmentsEnd = segments.map { Int($0.offset + $0.fileSize) }.max() ?? 0
        if file.count < segmentsEnd { file += [UInt8](repeating: 0xCC, count: segmentsEnd - file.count) }

        layout.sectionHeaders = file.count
        func section(type: UInt32, offset: Int, size: Int, link: UInt32, entrySize: UInt64) {
            file.append(littleEndian: UInt32(1))  // sh_name
            file.append(littleEndian: type)
            file.append(littleEndian: UInt64(0))  // sh_flags
            file.append(littleEndian: UInt64(0))  // sh_addr
            file.append(littleEndian: UInt64(offset))
            file.append(littleEndian: UInt64(size))
            file.append(littleEndian: link)
            file.append(littleEndian: UInt32(0))  // sh_info
            file.append(littleEndian: UInt64(8))  // sh_addralign
            file.append(littleEndian: entrySize)
        }
        file += [UInt8](repeating: 0, count: 64)  // SHN_UNDEF
        section(type: 2, offset: layout.symbolTable, size: symbolTable.entries.count, link: 2, entrySize: 24)
        section(type: 3, offset: layout.strings, size: symbolTable.strings.count, link: 0, entrySize: 0)
        section(type: 11, offset: layout.dynamicSymbolTable, size: dynamicTable.entries.count, link: 4, entrySize: 24)
        section(type: 3, offset: layout.dynamicStrings, size: dynamicTable.strings.count, link: 0, entrySize: 0)

        var header: [UInt8] = [0x7F, 0x45, 0x4C, 0x46, 2, 1, 1, 0] + [UInt8](repeating: 0, count: 8)
        header.append(littleEndian: UInt16(3))  // ET_DYN
        header.append(littleEndian: UInt16(62))  // EM_X86_64
        header.append(littleEndian: UInt32(1))
        header.append(littleEndian: UInt64(0))  // e_entry
        header.append(littleEndian: UInt64(layout.programHeaders))
        header.append(littleEndian: UInt64(layout.sectionHeaders))
        header.append(littleEndian: UInt32(0))  // e_flags
        header.append(littleEndian: UInt16(64))
        header.append(littleEndian: UInt16(56))
        header.append(littleEndian: UInt16(segments.count))
        header.append(littleEndian: UInt16(64))
        header.append(littleEndian: UInt16(5))
        header.append(littleEndian: UInt16(0))  // e_shstrndx
        file.replaceSubrange(0..<64, with: header)
        return (file, layout)
    }
}

extension [UInt8] {
    /// Appends `value` little-endian.
    mutating func append<Integer: FixedWidthInteger>(littleEndian value: Integer) {
        Swift.withUnsafeBytes(of: value.littleEndian) { self += $0 }
    }

    /// Writes `value` little-endian at `offset`.
    mutating func store<Integer: FixedWidthInteger>(littleEndian value: Integer, at offset: Int) {
        Swift.withUnsafeBytes(of: value.littleEndian) { replaceSubrange(offset..<(offset + $0.count), with: $0) }
    }
}
