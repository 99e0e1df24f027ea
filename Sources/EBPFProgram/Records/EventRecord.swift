#if canImport(Glibc)
import Glibc
#endif
import EBPFKernel

/// One record from a perf or ring buffer, decoded by field name.
///
/// The field names and types are the ones of the struct the BPF program submitted, as
/// libbcc recorded them when it compiled the program; nothing is declared in Swift.
///
/// ```swift
/// try b.table("events").openPerfBuffer { record in
///     print(record.comm?.stringValue ?? "?", record.pid?.intValue ?? -1)
/// }
/// ```
///
/// A field whose name collides with a property of this type (`fields`, `bytes`) is reached
/// with the subscript: `record["fields"]`.
@dynamicMemberLookup
public struct EventRecord: Sendable, CustomStringConvertible {
    /// Borrowed without reference counting on every access: an interned layout is never
    /// freed, and `owner` keeps any other alive.
    private let layoutReference: Unmanaged<RecordLayout>
    /// The layout when it is not interned; nil for an interned one (no reference counting
    /// on the per-record path).
    private let owner: RecordLayout?
    private let storage: RecordBytes

    @inline(__always)
    package init(layout: RecordLayout, bytes: UnsafeRawBufferPointer, recycler: borrowing RecordStorageRecycler? = nil)
    {
        self.layoutReference = Unmanaged.passUnretained(layout)
        self.owner = layout.isInterned ? nil : layout
        self.storage = RecordBytes(bytes, recycler: recycler)
    }

    /// Decodes `bytes` as the struct described by `fieldDescriptions`, libbcc's
    /// `name#type` strings (`pid#u32`, `comm#char[16]`): for records read from elsewhere
    /// than a buffer of this library.
    ///
    /// - Throws: ``EBPFError/Code/decodingFailed`` when a type cannot be sized. Bytes
    ///   missing from a short record decode as nil fields.
    public init(fieldDescriptions: [String], bytes: [UInt8]) throws(EBPFError) {
        // Not interned: arbitrary descriptions must not grow the process-wide table.
        let layout = try SubmittedStructLayout.make(table: "record", descriptions: fieldDescriptions, interned: false)
        layoutReference = Unmanaged.passUnretained(layout)
        owner = layout
        storage = bytes.withUnsafeBytes { RecordBytes($0) }
    }

    package init(layout: RecordLayout, bytes: [UInt8]) {
        self.layoutReference = Unmanaged.passUnretained(layout)
        self.owner = layout.isInterned ? nil : layout
        self.storage = bytes.withUnsafeBytes { RecordBytes($0) }
    }

    package var layout: RecordLayout { layoutReference.takeUnretainedValue() }

    package func withBytes<T>(_ body: (UnsafeRawBufferPointer) -> T) -> T {
        storage.withBytes(body)
    }

    /// The record exactly as the kernel delivered it.
    public var bytes: [UInt8] { storage.withBytes { Array($0) } }

    /// The field called `name`, or nil when the struct has no such field.
    public subscript(name: String) -> FieldValue? {
        decodedField(named: name)
    }

    /// The subscript's work, inlined into each public entry point: a field read by name is
    /// the per-event cost of a closure probe, and every call on its path shows.
    @inline(__always)
    package func decodedField(named name: String) -> FieldValue? {
        layoutReference._withUnsafeGuaranteedRef { layout in
            storage.withBytes { layout.decodedField(named: name, in: $0) }
        }
    }

    public subscript(dynamicMember name: String) -> FieldValue? {
        decodedField(named: name)
    }

    /// The names of the struct's fields, in declaration order.
    public var fieldNames: [String] { layout.fields.map(\.name) }

    /// Every field with its value, in declaration order.
    public var fields: [RecordField] {
        storage.withBytes { layout.decodedFields(in: $0) }
    }

    public var description: String {
        fields.map { "\($0.name)=\($0.value)" }.joined(separator: " ")
    }
}

/// A record's bytes: inline when small (most records are), so receiving one allocates
/// nothing; on the heap otherwise, in storage a ``RecordStorageRecycler`` can reuse.
package struct RecordBytes: Sendable {
    /// A closure probe's 56-byte header and 24 bytes of fields fit.
    package static let inlineCapacity = 80

    private var inline: InlineArray<5, SIMD2<UInt64>>
    private let count: Int
    private let heap: HeapRecordBytes?

    /// A copy of `bytes`; a large record goes into storage from `recycler` when one is given.
    /// (Inlined, so the bytes are copied straight into the record that is handed on.)
    @inline(__always)
    package init(_ bytes: UnsafeRawBufferPointer, recycler: borrowing RecordStorageRecycler? = nil) {
        count = bytes.count
        if bytes.count <= Self.inlineCapacity {
            heap = nil
            inline = Self.chunks(of: bytes)
        } else {
            inline = InlineArray(repeating: .zero)
            heap = recycler?.storage(holding: bytes) ?? HeapRecordBytes(copying: bytes)
        }
    }

    /// Up to 64 bytes as four 16-byte values, loaded whole where the bytes allow. The record
    /// is copied on (to the handler, and out of it) in 16-byte moves; had its bytes been
    /// written by `memcpy`'s differently sized stores, every such move would wait for them
    /// to reach the cache (a failed store-to-load forward: half of this function's time when
    /// it copied with `memcpy`).
    @inline(__always)
    private static func chunks(of bytes: UnsafeRawBufferPointer) -> InlineArray<5, SIMD2<UInt64>> {
        var chunks = InlineArray<5, SIMD2<UInt64>>(repeating: .zero)
        guard let base = bytes.baseAddress else { return chunks }
        let whole = bytes.count / 16
        for index in 0..<whole {
            chunks[index] = base.loadUnaligned(fromByteOffset: index * 16, as: SIMD2<UInt64>.self)
        }
        let start = whole * 16
        let rest = bytes.count - start
        guard rest > 0 else { return chunks }
        // The last 1-15 bytes: a whole word if there is one, then the bytes after it.
        let word = rest >= 8 ? base.loadUnaligned(fromByteOffset: start, as: UInt64.self) : 0
        let tailStart = rest >= 8 ? start + 8 : start
        let tail = tailBytes(of: bytes, from: tailStart)
        chunks[whole] = rest >= 8 ? SIMD2(word, tail) : SIMD2(tail, 0)
        return chunks
    }

    /// The bytes of `bytes` from `start` to its end (fewer than 8) as one word, byte `i` of
    /// them at address `i` of the word. A record of 8 bytes or more gives them with one load
    /// of its last 8 bytes, shifted; a byte loop would cost more than the rest of the copy.
    @inline(__always)
    private static func tailBytes(of bytes: UnsafeRawBufferPointer, from start: Int) -> UInt64 {
        let count = bytes.count - start
        guard count > 0, let base = bytes.baseAddress else { return 0 }
        #if _endian(little)
        if bytes.count >= 8 {
            return base.loadUnaligned(fromByteOffset: bytes.count - 8, as: UInt64.self) >> UInt64(8 * (8 - count))
        }
        #endif
        var tail: UInt64 = 0
        for index in 0..<count {
            tail |= UInt64(base.load(fromByteOffset: start + index, as: UInt8.self)) << (8 * UInt64(index))
        }
        return UInt64(littleEndian: tail)  // Byte `index` at address `index` on either byte order.
    }

    package func withBytes<T>(_ body: (UnsafeRawBufferPointer) -> T) -> T {
        // The count decides, so the inline path never touches (retains) the heap storage.
        guard count > Self.inlineCapacity, let heap else {
            // Through the span, the inline bytes are borrowed where they are, not copied.
            return inline.span.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
        }
        return body(UnsafeRawBufferPointer(start: heap.base, count: count))
    }
}

/// A large record's bytes on the heap. Written only while no record refers to it (when
/// created, or by the recycler that holds its only reference); read-only once shared.
package final class HeapRecordBytes: @unchecked Sendable {
    package let base: UnsafeMutableRawPointer
    package let capacity: Int

    package init(copying bytes: UnsafeRawBufferPointer) {
        capacity = bytes.count
        base = .allocate(byteCount: max(1, capacity), alignment: 8)
        overwrite(with: bytes)
    }

    package func overwrite(with bytes: UnsafeRawBufferPointer) {
        if let source = bytes.baseAddress { base.copyMemory(from: source, byteCount: bytes.count) }
    }

    deinit {
        base.deallocate()
    }
}

/// Reuses one large record's storage for the next record of a buffer when the handler kept
/// no copy of the last one (the common case): large records then cost a copy and no
/// allocation. Used only on the polling thread that decodes the buffer's records.
package final class RecordStorageRecycler: @unchecked Sendable {
    // @unchecked Sendable: `spare` is read and written only by the one thread that delivers
    // the buffer's records; a record handed to other threads only ever releases it.
    private var spare: HeapRecordBytes?

    /// A recycler for one buffer, the same with and without the sanitizers.
    package static func forBuffer() -> RecordStorageRecycler { RecordStorageRecycler() }

    package func storage(holding bytes: UnsafeRawBufferPointer) -> HeapRecordBytes {
        if isKnownUniquelyReferenced(&spare), let spare, spare.capacity >= bytes.count {
            // The reference count orders this write after the last read of another thread
            // (its release decrement, then this uniqueness check), as copy-on-write relies
            // on. ThreadSanitizer does not see the runtime's reference counting and would
            // call the order a race, so this one write is kept from it: the same code runs
            // with and without the sanitizer.
            ThreadSanitizer.unobserved { spare.overwrite(with: bytes) }
            return spare
        }
        let fresh = HeapRecordBytes(copying: bytes)
        spare = fresh
        return fresh
    }
}
