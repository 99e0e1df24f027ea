/// A compiled object as bytes on disk: a magic line, the key it was stored under (compared
/// whole when read back), the object, and a checksum of all that came before.
///
/// Reading never trusts the bytes: a short, damaged or foreign file, a reference outside its
/// function or to a map that does not exist, is `nil`, never a crash or a wrong program.
extension CompiledObject {
    package static let magic = Array("swift-ebpf compiled object 1\n".utf8)

    package func encoded(key: String) -> [UInt8] {
        var writer = ByteWriter()
        writer.bytes = Self.magic
        writer.string(key)
        writer.string(license)
        writer.integer(UInt64(kernelVersion))
        writer.integer(UInt64(maps.count))
        for map in maps {
            let table = map.table
            writer.string(table.name)
            writer.integer(UInt64(UInt32(bitPattern: table.type.rawValue)))
            writer.integer(UInt64(table.keySize))
            writer.integer(UInt64(table.leafSize))
            writer.integer(UInt64(table.maxEntries))
            writer.integer(UInt64(map.flags))
            writer.optionalString(table.keyDescription)
            writer.optionalString(table.leafDescription)
            writer.integer(UInt64(table.submittedFields.count))
            table.submittedFields.forEach { writer.string($0) }
        }
        writer.integer(UInt64(functions.count))
        for function in functions {
            writer.string(function.name)
            writer.integer(UInt64(function.instructions.count))
            function.instructions.forEach { writer.integer($0) }
            writer.integer(UInt64(function.mapReferences.count))
            for reference in function.mapReferences {
                writer.integer(UInt64(reference.instruction))
                writer.integer(UInt64(reference.map))
            }
        }
        writer.integer(Checksum.fnv1a(writer.bytes))
        return writer.bytes
    }

    /// The object stored in `bytes` under exactly `key`; nil for anything else.
    package static func decode(_ bytes: [UInt8], key: String) -> CompiledObject? {
        decodeWithKey(bytes).flatMap { $0.key == key ? $0.object : nil }
    }

    /// The object in `bytes` and the key it was stored under; nil for anything that is not
    /// exactly what ``encoded(key:)`` writes (so encoding the result again gives `bytes`).
    package static func decodeWithKey(_ bytes: [UInt8]) -> (key: String, object: CompiledObject)? {
        guard bytes.count >= magic.count + 8, bytes.starts(with: magic) else { return nil }
        var reader = ByteReader(bytes: bytes[..<(bytes.count - 8)])
        var checksumReader = ByteReader(bytes: bytes[(bytes.count - 8)...])
        guard checksumReader.integer() == Checksum.fnv1a(bytes[..<(bytes.count - 8)]) else { return nil }
        reader.offset = magic.count
        guard let key = reader.string(), let license = reader.string(), let version = reader.size(),
            let mapCount = reader.count()
        else { return nil }
        var maps: [Map] = []
        for _ in 0..<mapCount {
            guard let name = reader.string(), let type = reader.size(), let keySize = reader.size(),
                let valueSize = reader.size(), let maxEntries = reader.size(), let flags = reader.size(),
                let keyDescription = reader.optionalString(), let leafDescription = reader.optionalString(),
                let fieldCount = reader.count()
            else { return nil }
            var fields: [String] = []
            for _ in 0..<fieldCount {
                guard let field = reader.string() else { return nil }
                fields.append(field)
            }
            let table = TableInfo(
                name: name, type: TableType(rawValue: Int32(bitPattern: UInt32(truncatingIfNeeded: type))),
                keySize: keySize, leafSize: valueSize, maxEntries: maxEntries, keyDescription: keyDescription,
                leafDescription: leafDescription, submittedFields: fields)
            maps.append(Map(table: table, flags: UInt32(truncatingIfNeeded: flags)))
        }
        guard let functionCount = reader.count() else { return nil }
        var functions: [Function] = []
        for _ in 0..<functionCount {
            guard let name = reader.string(), let count = reader.count() else { return nil }
            var instructions: [UInt64] = []
            for _ in 0..<count {
                guard let word = reader.integer() else { return nil }
                instructions.append(word)
            }
            guard let referenceCount = reader.count() else { return nil }
            var references: [MapReference] = []
            for _ in 0..<referenceCount {
                guard let instruction = reader.count(), let map = reader.count(), map < maps.count,
                    instruction + 1 < instructions.count, opcode(instructions[instruction]) == loadImmediate64,
                    mapDescriptorSources.contains(sourceRegister(instructions[instruction]))
                else { return nil }
                references.append(MapReference(instruction: instruction, map: map))
            }
            functions.append(Function(name: name, instructions: instructions, mapReferences: references))
        }
        guard reader.isAtEnd else { return nil }
        let object = CompiledObject(
            license: license, kernelVersion: UInt32(truncatingIfNeeded: version), maps: maps, functions: functions)
        return (key, object)
    }
}

/// Appends little-endian integers and length-prefixed strings.
package struct ByteWriter {
    package var bytes: [UInt8] = []

    package init() {}

    package mutating func integer(_ value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    package mutating func string(_ value: String) {
        integer(UInt64(value.utf8.count))
        bytes.append(contentsOf: value.utf8)
    }

    package mutating func optionalString(_ value: String?) {
        integer(value == nil ? 0 : 1)
        if let value { string(value) }
    }
}

/// Reads what ``ByteWriter`` wrote; every read is nil past the end.
package struct ByteReader {
    package let bytes: ArraySlice<UInt8>
    package var offset: Int

    package init(bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        offset = bytes.startIndex
    }

    package var isAtEnd: Bool { offset == bytes.endIndex }

    package mutating func integer() -> UInt64? {
        guard bytes.endIndex - offset >= 8 else { return nil }
        var value: UInt64 = 0
        for index in 0..<8 { value |= UInt64(bytes[offset + index]) << (8 * UInt64(index)) }
        offset += 8
        return value
    }

    /// An integer used as a count, size or index: small enough that no allocation follows a
    /// damaged file's huge number.
    package mutating func count() -> Int? {
        guard let value = integer(), value <= UInt64(bytes.count) else { return nil }
        return Int(value)
    }

    /// A 32-bit quantity (a key size, a map's entry count).
    package mutating func size() -> Int? {
        guard let value = integer(), value <= UInt64(UInt32.max) else { return nil }
        return Int(value)
    }

    package mutating func string() -> String? {
        guard let length = count(), bytes.endIndex - offset >= length else { return nil }
        defer { offset += length }
        return String(validating: bytes[offset..<(offset + length)], as: UTF8.self)
    }

    package mutating func optionalString() -> String?? {
        switch integer() {
        case 0: return .some(nil)
        case 1: return string().map { .some($0) }
        default: return nil
        }
    }
}

package enum Checksum {
    /// 64-bit FNV-1a: detects a truncated or damaged file, not tampering (the cache directory's
    /// ownership guards that). Not generic: other targets call it, and an unspecialized
    /// generic costs a witness call per byte (and an allocation under the sanitizers).
    package static func fnv1a(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return hash
    }

    package static func fnv1a(_ bytes: [UInt8]) -> UInt64 { bytes.withUnsafeBytes { fnv1a($0) } }
    package static func fnv1a(_ bytes: ArraySlice<UInt8>) -> UInt64 { bytes.withUnsafeBytes { fnv1a($0) } }
}
