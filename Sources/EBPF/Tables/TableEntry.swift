/// One entry of a table: a key and what is stored under it.
public struct TableEntry<Key, Value> {
    public var key: Key
    public var value: Value

    public init(key: Key, value: Value) {
        self.key = key
        self.value = value
    }
}

extension TableEntry: Sendable where Key: Sendable, Value: Sendable {}
extension TableEntry: Equatable where Key: Equatable, Value: Equatable {}
extension TableEntry: Hashable where Key: Hashable, Value: Hashable {}
