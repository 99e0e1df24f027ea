import EBPFKernel

/// A table read and written as Swift values of the key's and value's C layout:
/// `try counts[pid]`, `try counts.updateValue(0, forKey: pid)`,
/// `try counts.removeValue(forKey: pid)`, `try counts.snapshot()`.
///
/// Made by ``EBPFWrapper/table(_:key:value:)``, which checks that `Key` and `Value` have
/// the sizes of the map's key and value. Every operation is a system call and throws what
/// the kernel reported (``EBPFError/Code/closed`` once the wrapper was closed); nothing is
/// swallowed.
public final class TypedTable<Key: BitwiseCopyable, Value: BitwiseCopyable>: Sendable {
    let access: MapAccess

    init(access: MapAccess) {
        self.access = access
    }

    public var name: String { access.name }
    public var type: TableType { access.type }

    private func decode(_ bytes: [UInt8]) -> Value {
        bytes.withUnsafeBytes { $0.loadUnaligned(as: Value.self) }
    }

    /// The value under `key`; nil when there is none.
    public func value(forKey key: Key) throws(EBPFError) -> Value? {
        try access.lookup(MapAccess.bytes(of: key)).map(decode)
    }

    /// The value under `key`; nil when there is none: `try counts[pid]`.
    public subscript(key: Key) -> Value? {
        get throws(EBPFError) { try value(forKey: key) }
    }

    /// Stores `value` under `key` and returns the value it replaced.
    @discardableResult
    public func updateValue(_ value: Value, forKey key: Key) throws(EBPFError) -> Value? {
        let old = try self.value(forKey: key)
        try access.update(MapAccess.bytes(of: key), MapAccess.bytes(of: value))
        return old
    }

    /// Deletes `key` (for arrays: zeroes the element) and returns the value it held.
    @discardableResult
    public func removeValue(forKey key: Key) throws(EBPFError) -> Value? {
        let old = try value(forKey: key)
        try access.remove(MapAccess.bytes(of: key))
        return old
    }

    /// Deletes every entry (for arrays: zeroes every element).
    public func removeAll() throws(EBPFError) {
        try access.clear()
    }

    /// Every entry present now.
    public func snapshot() throws(EBPFError) -> [TableEntry<Key, Value>] {
        try access.items().map(entry)
    }

    /// Reads and deletes every entry, in batches where the kernel supports it (5.6+), as
    /// ``Table/takeItems()``: a count read this way is neither lost nor read twice.
    ///
    /// - Throws: ``EBPFError/Code/invalidArgument`` for an array, whose entries cannot be
    ///   deleted.
    public func takeSnapshot() throws(EBPFError) -> [TableEntry<Key, Value>] {
        try access.takeAll().map(entry)
    }

    private func entry(_ item: (key: [UInt8], value: [UInt8])) -> TableEntry<Key, Value> {
        TableEntry(key: item.key.withUnsafeBytes { $0.loadUnaligned(as: Key.self) }, value: decode(item.value))
    }

    /// How many entries there are now (for arrays, the number of elements).
    public func count() throws(EBPFError) -> Int {
        try access.count()
    }
}

/// A per-CPU table (`BPF_PERCPU_HASH`, `BPF_PERCPU_ARRAY`) read and written as Swift values:
/// each key holds one value per possible CPU. The same throwing shape as ``TypedTable``.
public final class PerCPUTable<Key: BitwiseCopyable, Value: BitwiseCopyable>: Sendable {
    let access: MapAccess

    init(access: MapAccess) {
        self.access = access
    }

    public var name: String { access.name }
    public var type: TableType { access.type }
    /// How many values each key has.
    public var possibleCPUs: Int { access.possibleCPUs }

    private func decode(_ buffer: [UInt8]) -> [Value] {
        access.perCPUValues(buffer).map { bytes in bytes.withUnsafeBytes { $0.loadUnaligned(as: Value.self) } }
    }

    /// The values under `key`, one per possible CPU; nil when there is none.
    public func value(forKey key: Key) throws(EBPFError) -> [Value]? {
        try access.lookup(MapAccess.bytes(of: key)).map(decode)
    }

    /// The values under `key`, one per possible CPU; nil when there is none: `try hits[0]`.
    public subscript(key: Key) -> [Value]? {
        get throws(EBPFError) { try value(forKey: key) }
    }

    /// Stores one value per possible CPU under `key` and returns the values it replaced.
    @discardableResult
    public func updateValue(_ values: [Value], forKey key: Key) throws(EBPFError) -> [Value]? {
        let old = try value(forKey: key)
        try access.update(MapAccess.bytes(of: key), access.perCPUBuffer(values.map { MapAccess.bytes(of: $0) }))
        return old
    }

    /// Deletes `key` (for arrays: zeroes the element) and returns the values it held.
    @discardableResult
    public func removeValue(forKey key: Key) throws(EBPFError) -> [Value]? {
        let old = try value(forKey: key)
        try access.remove(MapAccess.bytes(of: key))
        return old
    }

    /// Deletes every entry (for arrays: zeroes every element).
    public func removeAll() throws(EBPFError) {
        try access.clear()
    }

    /// Every entry present now, with its per-CPU values.
    public func snapshot() throws(EBPFError) -> [TableEntry<Key, [Value]>] {
        try access.items().map(entry)
    }

    /// Reads and deletes every entry with its per-CPU values, in batches where the kernel
    /// supports it (5.6+): a count read this way is neither lost nor read twice.
    ///
    /// - Throws: ``EBPFError/Code/invalidArgument`` for a per-CPU array, whose entries
    ///   cannot be deleted.
    public func takeSnapshot() throws(EBPFError) -> [TableEntry<Key, [Value]>] {
        try access.takeAll().map(entry)
    }

    private func entry(_ item: (key: [UInt8], value: [UInt8])) -> TableEntry<Key, [Value]> {
        TableEntry(key: item.key.withUnsafeBytes { $0.loadUnaligned(as: Key.self) }, value: decode(item.value))
    }

    /// How many entries there are now (for arrays, the number of elements).
    public func count() throws(EBPFError) -> Int {
        try access.count()
    }
}

extension PerCPUTable where Value: FixedWidthInteger {
    /// The sum of `key`'s values over all CPUs; nil when absent.
    ///
    /// - Throws: ``EBPFError/Code/decodingFailed`` when the sum does not fit in `Value`
    ///   (per-CPU counters of a narrow type): read ``value(forKey:)`` and add in a wider type.
    public func sum(forKey key: Key) throws(EBPFError) -> Value? {
        guard let values = try value(forKey: key) else { return nil }
        var total: Value = 0
        for value in values {
            let (sum, overflow) = total.addingReportingOverflow(value)
            guard !overflow else {
                throw EBPFError(
                    .decodingFailed,
                    "the per-CPU values of table '\(name)' add up to more than \(Value.self) holds (\(values)); read value(forKey:) and add them in a wider type"
                )
            }
            total = sum
        }
        return total
    }
}
