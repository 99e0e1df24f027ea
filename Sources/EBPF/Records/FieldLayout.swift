import Synchronization

/// Where one field lies in a record and how to read it.
///
/// Built once per buffer or probe (from libbcc's description of the submitted struct, or from
/// a tracepoint format file), then used to decode every record.
struct FieldLayout: Sendable, Hashable {
    /// How each element of the field is read.
    enum Kind: Sendable, Hashable {
        case signed, unsigned, boolean, floatingPoint, pointer
        /// `char` elements: an array of them reads as a string.
        case character
        /// Opaque bytes (`__int128`, `u8` arrays).
        case bytes
        /// A `struct sockaddr` copied from the traced process.
        case socketAddress
    }

    var name: String
    var offset: Int
    /// The size of one element in bytes.
    var elementSize: Int
    /// Number of elements; nil for a scalar.
    var count: Int?
    var kind: Kind
    /// Where a `u32` holding the number of valid bytes lies, for fields copied with a
    /// run-time length (socket addresses, dynamic arrays).
    var lengthOffset: Int?

    var size: Int { elementSize * (count ?? 1) }

    /// Decodes the field from a record; nil when the record is too short to hold it.
    func decode(from record: UnsafeRawBufferPointer) -> FieldValue? {
        guard offset >= 0, offset + size <= record.count else { return nil }
        let start = record.baseAddress! + offset
        if let lengthOffset {
            guard lengthOffset >= 0, lengthOffset + 4 <= record.count else { return nil }
            let length = min(Int(record.loadUnaligned(fromByteOffset: lengthOffset, as: UInt32.self)), size)
            let bytes = Array(UnsafeRawBufferPointer(start: start, count: length))
            if kind == .socketAddress {
                return SocketAddress(bytes: bytes).map(FieldValue.socketAddress) ?? .bytes(bytes)
            }
            return .bytes(bytes)
        }
        switch (kind, count) {
        case (.character, .some(let count)):
            let bytes = UnsafeBufferPointer(start: start.assumingMemoryBound(to: UInt8.self), count: count)
            let end = bytes.firstIndex(of: 0) ?? count
            return .string(String(decoding: UnsafeBufferPointer(rebasing: bytes[0..<end]), as: UTF8.self))
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
            return .signed(Self.loadSigned(pointer, size: elementSize))
        case .unsigned:
            return .unsigned(Self.loadUnsigned(pointer, size: elementSize))
        case .boolean:
            return .boolean(Self.loadUnsigned(pointer, size: elementSize) != 0)
        case .pointer:
            return .pointer(Self.loadUnsigned(pointer, size: elementSize))
        case .floatingPoint:
            return elementSize == 4
                ? .floatingPoint(Double(pointer.loadUnaligned(as: Float.self)))
                : .floatingPoint(pointer.loadUnaligned(as: Double.self))
        case .bytes, .socketAddress:
            return .bytes(Array(UnsafeRawBufferPointer(start: pointer, count: elementSize)))
        }
    }

    static func loadUnsigned(_ pointer: UnsafeRawPointer, size: Int) -> UInt64 {
        switch size {
        case 1: return UInt64(pointer.load(as: UInt8.self))
        case 2: return UInt64(pointer.loadUnaligned(as: UInt16.self))
        case 4: return UInt64(pointer.loadUnaligned(as: UInt32.self))
        default: return pointer.loadUnaligned(as: UInt64.self)
        }
    }

    static func loadSigned(_ pointer: UnsafeRawPointer, size: Int) -> Int64 {
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
final class RecordLayout: Sendable {
    let fields: [FieldLayout]
    /// Whether this layout is in a ``LayoutTable`` (never freed).
    let isInterned: Bool
    /// The size of the C struct, padding included.
    let size: Int
    /// For a generated probe's records, the event's name (`syscalls:sys_enter_bind`).
    let eventName: String
    /// A fingerprint of each field's name, in field order: looking a name up scans these
    /// integers and compares strings only on a match. It runs once per field access on
    /// every record, and comparing unequal Strings (Unicode-aware) or hashing one
    /// (SipHash) costs several times more.
    private let fingerprints: [UInt64]

    fileprivate init(fields: [FieldLayout], size: Int, eventName: String, isInterned: Bool) {
        self.isInterned = isInterned
        self.fields = fields
        self.size = size
        self.eventName = eventName
        fingerprints = fields.map { Self.fingerprint($0.name) }
    }

    /// A layout of its own, freed with its last reference (not interned).
    static func unshared(fields: [FieldLayout], size: Int, eventName: String = "") -> RecordLayout {
        RecordLayout(fields: fields, size: size, eventName: eventName, isInterned: false)
    }

    /// The process-wide layout with these fields, size and event name (see ``LayoutTable``).
    static func interned(fields: [FieldLayout], size: Int, eventName: String = "") -> RecordLayout {
        LayoutTable.shared.layout(fields: fields, size: size, eventName: eventName)
    }

    /// The position of the field called `name` in ``fields``.
    func index(named name: String) -> Int? {
        let wanted = Self.fingerprint(name)
        for index in fingerprints.indices where fingerprints[index] == wanted && fields[index].name == name {
            return index
        }
        return nil
    }

    /// FNV-1a over the name's UTF-8 bytes.
    static func fingerprint(_ name: String) -> UInt64 {
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

/// Interned record layouts: one per distinct record type, never freed, at most `limit`.
final class LayoutTable: Sendable {
    /// The process's table; 4,096 record types are far more than any program declares.
    static let shared = LayoutTable(limit: 4096)

    let limit: Int

    private struct Key: Hashable {
        var fields: [FieldLayout]
        var size: Int
        var eventName: String
    }

    private let layouts = Lock<[Key: RecordLayout]>([:])

    init(limit: Int) {
        self.limit = limit
    }

    /// The one interned layout with these fields, size and event name; once `limit` are
    /// interned, a new one of its own (``RecordLayout/unshared(fields:size:eventName:)``).
    func layout(fields: [FieldLayout], size: Int, eventName: String) -> RecordLayout {
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
    var count: Int { layouts.withLock { $0.count } }
}
