import Synchronization
import EBPFKernel

/// Where one field lies in a record and how to read it.
///
/// Built once per buffer or probe (from libbcc's description of the submitted struct, or from
/// a tracepoint format file), then used to decode every record.
package struct FieldLayout: Sendable, Hashable {
    /// How each element of the field is read.
    package enum Kind: Sendable, Hashable, BitwiseCopyable {
        case signed, unsigned, boolean, floatingPoint, pointer
        /// `char` elements: an array of them reads as a string.
        case character
        /// Opaque bytes (`__int128`, `u8` arrays).
        case bytes
        /// A `struct sockaddr` copied from the traced process.
        case socketAddress
        /// `count` NUL-terminated strings of `elementSize` bytes each, the number valid a u32
        /// at `lengthOffset` (an `argv`).
        case strings
    }

    package var name: String
    /// Where the field lies and how it reads: all that decoding needs.
    package let shape: Shape

    package init(name: String, offset: Int, elementSize: Int, count: Int? = nil, kind: Kind, lengthOffset: Int? = nil) {
        self.name = name
        shape = Shape(offset: offset, elementSize: elementSize, count: count, kind: kind, lengthOffset: lengthOffset)
    }

    package var offset: Int { shape.offset }
    /// The size of one element in bytes.
    package var elementSize: Int { shape.elementSize }
    /// Number of elements; nil for a scalar.
    package var count: Int? { shape.count }
    package var kind: Kind { shape.kind }
    /// Where a `u32` holding the number of valid bytes lies, for fields copied with a
    /// run-time length (socket addresses, dynamic arrays).
    package var lengthOffset: Int? { shape.lengthOffset }
    package var size: Int { shape.size }

    /// Decodes the field from a record; nil when the record is too short to hold it.
    package func decode(from record: UnsafeRawBufferPointer) -> FieldValue? {
        shape.decode(from: record)
    }

    /// This scalar field as an array of `count` elements.
    package func repeated(_ count: Int) -> FieldLayout {
        FieldLayout(
            name: name, offset: offset, elementSize: elementSize, count: count, kind: kind, lengthOffset: lengthOffset)
    }

    /// This field `delta` bytes further into the record (a nested struct's member).
    package func moved(by delta: Int) -> FieldLayout {
        FieldLayout(
            name: name, offset: offset + delta, elementSize: elementSize, count: count, kind: kind,
            lengthOffset: lengthOffset.map { $0 + delta })
    }

    /// A field's position and kind without its name: a plain value, so reading one out of a
    /// layout on every record retains nothing.
    package struct Shape: Sendable, Hashable, BitwiseCopyable {
        package let offset: Int
        package let elementSize: Int
        package let count: Int?
        package let kind: Kind
        package let lengthOffset: Int?

        package var size: Int { elementSize * (count ?? 1) }

        @inline(__always)
        package func decode(from record: UnsafeRawBufferPointer) -> FieldValue? {
            // Most fields are one number: read without the general case's checks and switch.
            if count == nil, lengthOffset == nil, offset >= 0, offset + elementSize <= record.count,
                let base = record.baseAddress
            {
                return scalar(at: base + offset)
            }
            return decodeAnyShape(from: record)
        }

        private func decodeAnyShape(from record: UnsafeRawBufferPointer) -> FieldValue? {
            guard offset >= 0, offset + size <= record.count else { return nil }
            let start = record.baseAddress! + offset
            if let lengthOffset {
                guard lengthOffset >= 0, lengthOffset + 4 <= record.count else { return nil }
                if kind == .strings {
                    let valid = min(
                        Int(record.loadUnaligned(fromByteOffset: lengthOffset, as: UInt32.self)), count ?? 0)
                    return .array(
                        (0..<valid).map { index in
                            .string(
                                FieldLayout.cString(
                                    UnsafeRawBufferPointer(start: start + index * elementSize, count: elementSize)))
                        })
                }
                let length = min(Int(record.loadUnaligned(fromByteOffset: lengthOffset, as: UInt32.self)), size)
                let bytes = Array(UnsafeRawBufferPointer(start: start, count: length))
                if kind == .socketAddress {
                    return SocketAddress(bytes: bytes).map(FieldValue.socketAddress) ?? .bytes(bytes)
                }
                return .bytes(bytes)
            }
            switch (kind, count) {
            case (.character, .some(let count)):
                return .string(FieldLayout.cString(UnsafeRawBufferPointer(start: start, count: count)))
            case (.bytes, _), (.socketAddress, _):
                return .bytes(Array(UnsafeRawBufferPointer(start: start, count: size)))
            case (.unsigned, .some) where elementSize == 1:
                return .bytes(Array(UnsafeRawBufferPointer(start: start, count: size)))
            case (_, .some(let count)):
                return .array((0..<count).map { scalar(at: start + $0 * elementSize) })
            case (_, .none):
                return scalar(at: start)
            }
        }

        private func scalar(at pointer: UnsafeRawPointer) -> FieldValue {
            switch kind {
            case .signed, .character:
                return .signed(FieldLayout.loadSigned(pointer, size: elementSize))
            case .unsigned:
                return .unsigned(FieldLayout.loadUnsigned(pointer, size: elementSize))
            case .boolean:
                return .boolean(FieldLayout.loadUnsigned(pointer, size: elementSize) != 0)
            case .pointer:
                return .pointer(FieldLayout.loadUnsigned(pointer, size: elementSize))
            case .floatingPoint:
                return elementSize == 4
                    ? .floatingPoint(Double(pointer.loadUnaligned(as: Float.self)))
                    : .floatingPoint(pointer.loadUnaligned(as: Double.self))
            case .bytes, .socketAddress:
                return .bytes(Array(UnsafeRawBufferPointer(start: pointer, count: elementSize)))
            case .strings:
                return .string(FieldLayout.cString(UnsafeRawBufferPointer(start: pointer, count: elementSize)))
            }
        }
    }

    /// A C `char` array as text: its bytes up to the first NUL (all of them without one),
    /// decoded as UTF-8.
    package static func cString(_ bytes: UnsafeRawBufferPointer) -> String {
        String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }

    package static func loadUnsigned(_ pointer: UnsafeRawPointer, size: Int) -> UInt64 {
        switch size {
        case 1: return UInt64(pointer.load(as: UInt8.self))
        case 2: return UInt64(pointer.loadUnaligned(as: UInt16.self))
        case 4: return UInt64(pointer.loadUnaligned(as: UInt32.self))
        default: return pointer.loadUnaligned(as: UInt64.self)
        }
    }

    package static func loadSigned(_ pointer: UnsafeRawPointer, size: Int) -> Int64 {
        switch size {
        case 1: return Int64(pointer.load(as: Int8.self))
        case 2: return Int64(pointer.loadUnaligned(as: Int16.self))
        case 4: return Int64(pointer.loadUnaligned(as: Int32.self))
        default: return pointer.loadUnaligned(as: Int64.self)
        }
    }
}

/// The fields of one kind of record, computed once and shared by every record decoded with
/// it.
///
/// Layouts are interned for the life of the process (``interned(fields:size:eventName:)``):
/// identical probes share one, and records refer to an interned layout without reference
/// counting on the per-record path. At most ``LayoutTable/shared``'s limit are interned; a
/// record type beyond them gets a layout of its own, which its records keep alive.
package final class RecordLayout: Sendable {
    package let fields: [FieldLayout]
    /// Whether this layout is in a ``LayoutTable`` (never freed).
    package let isInterned: Bool
    /// The size of the C struct, padding included.
    package let size: Int
    /// For a generated probe's records, the event's name (`syscalls:sys_enter_bind`).
    package let eventName: String
    /// Each field's shape, in field order: what decoding a field on every record reads.
    package let shapes: [FieldLayout.Shape]
    /// A fingerprint of each field's name, in field order: looking a name up scans these
    /// integers and compares strings only on a match. It runs once per field access on
    /// every record, and comparing unequal Strings (Unicode-aware) or hashing one
    /// (SipHash) costs several times more.
    private let fingerprints: [UInt64]
    /// Each field name's representation (see ``StringIdentity``), in field order.
    private let nameIdentities: [StringIdentity]

    fileprivate init(fields: [FieldLayout], size: Int, eventName: String, isInterned: Bool) {
        self.isInterned = isInterned
        self.fields = fields
        self.size = size
        self.eventName = eventName
        shapes = fields.map(\.shape)
        fingerprints = fields.map { Self.fingerprint($0.name) }
        nameIdentities = fields.compactMap { StringIdentity($0.name) }
    }

    /// A layout of its own, freed with its last reference (not interned).
    package static func unshared(fields: [FieldLayout], size: Int, eventName: String = "") -> RecordLayout {
        RecordLayout(fields: fields, size: size, eventName: eventName, isInterned: false)
    }

    /// The process-wide layout with these fields, size and event name (see ``LayoutTable``).
    package static func interned(fields: [FieldLayout], size: Int, eventName: String = "") -> RecordLayout {
        LayoutTable.shared.layout(fields: fields, size: size, eventName: eventName)
    }

    /// The position of the field called `name` in ``fields``.
    @inline(__always)
    package func index(named name: String) -> Int? {
        // A name of up to 15 UTF-8 bytes is stored in the String itself: the same text is the
        // same two words, so a literal such as `event.fd` is found without reading its text.
        if let identity = StringIdentity(name), let index = nameIdentities.firstIndex(of: identity) {
            return index
        }
        return indexComparingText(name)
    }

    /// The field called `name` of `record` (bytes of this layout), decoded; nil when the
    /// layout has no such field.
    @inline(__always)
    package func decodedField(named name: String, in record: UnsafeRawBufferPointer) -> FieldValue? {
        guard let index = index(named: name) else { return nil }
        return shapes[index].decode(from: record)
    }

    /// Every field of `record` with its value, in declaration order.
    package func decodedFields(in record: UnsafeRawBufferPointer) -> [RecordField] {
        fields.compactMap { field in field.decode(from: record).map { RecordField(name: field.name, value: $0) } }
    }

    private func indexComparingText(_ name: String) -> Int? {
        let wanted = Self.fingerprint(name)
        for index in fingerprints.indices where fingerprints[index] == wanted && fields[index].name == name {
            return index
        }
        return nil
    }

    /// FNV-1a over the name's UTF-8 bytes.
    package static func fingerprint(_ name: String) -> UInt64 {
        func hash<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> UInt64 {
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325
            for byte in bytes {
                hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
            }
            return hash
        }
        // Native and small strings expose their UTF-8 contiguously: a plain loop over bytes.
        return name.utf8.withContiguousStorageIfAvailable { hash($0) } ?? hash(name.utf8)
    }
}

/// The two machine words a `String` is made of. Equal words are the same string (the same
/// small-string bytes, or the same storage), so comparing them is a sound first test for
/// equality that reads no text; unequal words prove nothing (the same text can be stored
/// twice), and the caller then compares the strings.
package struct StringIdentity: Equatable, BitwiseCopyable {
    private let first: UInt64
    private let second: UInt64

    /// nil where a `String` is not two 64-bit words (then there is no fast path).
    package init?(_ string: String) {
        guard MemoryLayout<String>.size == MemoryLayout<Self>.size else { return nil }
        self = unsafeBitCast(string, to: Self.self)
    }
}

/// Interned record layouts: one per distinct record type, never freed, at most `limit`.
package final class LayoutTable: Sendable {
    /// The process's table; 4,096 record types are far more than any program declares.
    package static let shared = LayoutTable(limit: 4096)

    package let limit: Int

    private struct Key: Hashable {
        package var fields: [FieldLayout]
        package var size: Int
        package var eventName: String
    }

    private let layouts = Lock<[Key: RecordLayout]>([:])

    package init(limit: Int) {
        self.limit = limit
    }

    /// The one interned layout with these fields, size and event name; once `limit` are
    /// interned, a new one of its own (``RecordLayout/unshared(fields:size:eventName:)``).
    package func layout(fields: [FieldLayout], size: Int, eventName: String) -> RecordLayout {
        layouts.withLock { layouts in
            let key = Key(fields: fields, size: size, eventName: eventName)
            if let existing = layouts[key] { return existing }
            guard layouts.count < limit else {
                return RecordLayout.unshared(fields: fields, size: size, eventName: eventName)
            }
            let layout = RecordLayout(fields: fields, size: size, eventName: eventName, isInterned: true)
            layouts[key] = layout
            return layout
        }
    }

    /// How many layouts are interned now.
    package var count: Int { layouts.withLock { $0.count } }
}
