/// A decoded field of a record or table value: its name and its value.
public struct RecordField: Sendable, Hashable, CustomStringConvertible {
    public var name: String
    public var value: FieldValue

    public init(name: String, value: FieldValue) {
        self.name = name
        self.value = value
    }

    public var description: String { "\(name)=\(value)" }
}

/// Where one member lies in a record: what a Swift struct mirroring the record must match.
public struct RecordMember: Sendable, Hashable {
    public var name: String
    public var offset: Int
    public var size: Int

    public init(name: String, offset: Int, size: Int) {
        self.name = name
        self.offset = offset
        self.size = size
    }
}
