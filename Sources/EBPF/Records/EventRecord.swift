/// One record from a perf or ring buffer, decoded by field name.
///
/// The field names and types are the ones of the struct the BPF program submitted, as
/// libbcc recorded them when it compiled the program; nothing is declared in Swift.
///
/// ```swift
/// try b.openPerfBuffer("events") { record in
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

    init(layout: RecordLayout, bytes: UnsafeRawBufferPointer) {
        self.layoutReference = Unmanaged.passUnretained(layout)
        self.owner = layout.isInterned ? nil : layout
        self.storage = RecordBytes(bytes)
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

    init(layout: RecordLayout, bytes: [UInt8]) {
        self.layoutReference = Unmanaged.passUnretained(layout)
        self.owner = layout.isInterned ? nil : layout
        self.storage = bytes.withUnsafeBytes { RecordBytes($0) }
    }

    var layout: RecordLayout { layoutReference.takeUnretainedValue() }

    func withBytes<T>(_ body: (UnsafeRawBufferPointer) -> T) -> T {
        storage.withBytes(body)
    }

    /// The record exactly as the kernel delivered it.
    public var bytes: [UInt8] { storage.withBytes { Array($0) } }

    /// The field called `name`, or nil when the struct has no such field.
    public subscript(name: String) -> FieldValue? {
        layoutReference._withUnsafeGuaranteedRef { layout in
            guard let index = layout.index(named: name) else { return nil }
            return storage.withBytes { layout.fields[index].decode(from: $0) }
        }
    }

    public subscript(dynamicMember name: String) -> FieldValue? {
        self[name]
    }

    /// The names of the struct's fields, in declaration order.
    public var fieldNames: [String] { layout.fields.map(\.name) }

    /// Every field with its value, in declaration order.
    public var fields: [RecordField] {
        storage.withBytes { raw in
            layout.fields.compactMap { field in field.decode(from: raw).map { RecordField(name: field.name, value: $0) }
            }
        }
    }

    public var description: String {
        fields.map { "\($0.name)=\($0.value)" }.joined(separator: " ")
    }
}

/// A record's bytes: inline when small (most records are), so receiving one allocates
/// nothing; on the heap otherwise.
struct RecordBytes: Sendable {
    static let inlineCapacity = 64

    private var inline: InlineArray<64, UInt8>
    private let count: Int
    private let heap: [UInt8]?

    init(_ bytes: UnsafeRawBufferPointer) {
        inline = InlineArray(repeating: 0)
        count = bytes.count
        if bytes.count <= Self.inlineCapacity {
            heap = nil
            if let base = bytes.baseAddress, bytes.count > 0 {
                withUnsafeMutableBytes(of: &inline) { $0.baseAddress!.copyMemory(from: base, byteCount: bytes.count) }
            }
        } else {
            heap = Array(bytes)
        }
    }

    func withBytes<T>(_ body: (UnsafeRawBufferPointer) -> T) -> T {
        // The count decides, so the inline path never touches (retains) the heap array.
        guard count > Self.inlineCapacity, let heap else {
            // Through the span, the inline bytes are borrowed where they are, not copied.
            return inline.span.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
        }
        return heap.withUnsafeBytes(body)
    }
}
