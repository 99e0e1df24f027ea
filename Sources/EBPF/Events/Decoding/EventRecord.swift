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
    let layout: RecordLayout
    /// The record exactly as the kernel delivered it.
    public let bytes: [UInt8]

    init(layout: RecordLayout, bytes: [UInt8]) {
        self.layout = layout
        self.bytes = bytes
    }

    /// The field called `name`, or nil when the struct has no such field.
    public subscript(name: String) -> FieldValue? {
        guard let field = layout.field(named: name) else { return nil }
        return bytes.withUnsafeBytes { field.decode(from: $0) }
    }

    public subscript(dynamicMember name: String) -> FieldValue? {
        self[name]
    }

    /// The names of the struct's fields, in declaration order.
    public var fieldNames: [String] { layout.fields.map(\.name) }

    /// Every field with its value, in declaration order.
    public var fields: [(name: String, value: FieldValue)] {
        bytes.withUnsafeBytes { raw in
            layout.fields.compactMap { field in field.decode(from: raw).map { (field.name, $0) } }
        }
    }

    public var description: String {
        fields.map { "\($0.name)=\($0.value)" }.joined(separator: " ")
    }
}
