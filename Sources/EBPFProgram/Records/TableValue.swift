import EBPFKernel

/// A table key or value, decoded by name from libbcc's description of its C type.
///
/// A scalar (`u64`) is ``value`` (with ``intValue`` and friends as shortcuts); a struct's
/// fields are reached by name: `entry.key.pid?.intValue`, `entry.key["comm"]?.stringValue`.
@dynamicMemberLookup
public struct TableValue: Sendable, Hashable, CustomStringConvertible {
    package let record: EventRecord
    package let isScalar: Bool

    package init(layout: TableTypeLayout, bytes: UnsafeRawBufferPointer) {
        record = EventRecord(layout: layout.layout, bytes: bytes)
        isScalar = layout.isScalar
    }

    /// Decodes `bytes` as the C type that libbcc describes with `typeDescription` (the JSON
    /// of `bpf_table_key_desc`/`bpf_table_leaf_desc`), as ``Table`` does for a map's keys and
    /// values; for reading map data saved elsewhere.
    ///
    /// - Throws: ``EBPFError/Code/decodingFailed`` when the description is not such JSON, uses
    ///   a type the decoder cannot size (bit-fields, unknown names), or does not add up to
    ///   `bytes.count` bytes.
    public init(typeDescription: String, bytes: [UInt8]) throws(EBPFError) {
        let layout = try TableTypeLayout.make(
            description: typeDescription, size: bytes.count, table: "(given)", what: "value")
        self = bytes.withUnsafeBytes { TableValue(layout: layout, bytes: $0) }
    }

    /// The value of a scalar type; nil for a struct.
    public var value: FieldValue? { isScalar ? record[""] : nil }
    public var intValue: Int? { value?.intValue }
    public var uint64Value: UInt64? { value?.uint64Value }
    public var stringValue: String? { value?.stringValue }

    /// A struct's field by name; nil for a scalar or an unknown name.
    public subscript(name: String) -> FieldValue? { isScalar ? nil : record[name] }
    public subscript(dynamicMember name: String) -> FieldValue? { self[name] }

    /// A struct's fields in declaration order (padding omitted); empty for a scalar.
    public var fields: [RecordField] { isScalar ? [] : record.fields }

    /// The bytes as stored in the map.
    public var bytes: [UInt8] { record.bytes }

    public static func == (lhs: TableValue, rhs: TableValue) -> Bool {
        lhs.isScalar == rhs.isScalar && lhs.record.layout === rhs.record.layout && lhs.bytes == rhs.bytes
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(bytes)
    }

    public var description: String {
        if isScalar { return value?.description ?? "?" }
        return "{" + fields.map { "\($0.name)=\($0.value)" }.joined(separator: ", ") + "}"
    }
}
