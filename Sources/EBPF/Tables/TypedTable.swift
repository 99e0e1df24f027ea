import Logging

/// A table read and written as Swift values of the key's and value's C layout, like a
/// `Dictionary`: `counts[pid]`, `counts[pid] = 0`, `counts.removeValue(forKey: pid)`,
/// `counts.items`.
///
/// Made by ``EBPFWrapper/table(_:key:value:)``, which checks that `Key` and `Value` have
/// the sizes of the map's key and value. The subscript and properties cannot throw, so a
/// failing system call is logged to the wrapper's logger and reads as nil or empty; the
/// throwing methods (``value(forKey:)``, ``updateValue(_:forKey:)``, ``snapshot()``) report it.
public final class TypedTable<Key: BitwiseCopyable, Value: BitwiseCopyable>: Sendable {
    let access: MapAccess
    let logger: Logger

    init(access: MapAccess, logger: Logger) {
        self.access = access
        self.logger = logger
    }

    public var name: String { access.name }
    public var type: TableType { access.type }

    private func logged<T>(_ fallback: T, _ body: () throws(EBPFError) -> T) -> T {
        do {
            return try body()
        } catch {
            logger.error("table \(name): \(error)")
            return fallback
        }
    }

    /// The value under `key`; nil when there is none.
    public func value(forKey key: Key) throws(EBPFError) -> Value? {
        try access.lookup(MapAccess.bytes(of: key)).map { bytes in bytes.withUnsafeBytes { $0.loadUnaligned(as: Value.self) } }
    }

    /// Stores `value` under `key` and returns the value it replaced.
    @discardableResult
    public func updateValue(_ value: Value, forKey key: Key) throws(EBPFError) -> Value? {
        let old = try self.value(forKey: key)
        try access.update(MapAccess.bytes(of: key), MapAccess.bytes(of: value))
        return old
    }

    /// Reads, stores (`table[key] = value`) or deletes (`table[key] = nil`) the value under `key`.
    public subscript(key: Key) -> Value? {
        get { logged(nil) { () throws(EBPFError) in try value(forKey: key) } }
        set {
            logged(()) { () throws(EBPFError) in
                if let newValue {
                    try access.update(MapAccess.bytes(of: key), MapAccess.bytes(of: newValue))
                } else if access.isArray {
                    try access.update(MapAccess.bytes(of: key), [UInt8](repeating: 0, count: access.valueBufferSize))
                } else {
                    try access.delete(MapAccess.bytes(of: key))
                }
            }
        }
    }

    /// Deletes `key` and returns its value (for arrays: zeroes the element).
    @discardableResult
    public func removeValue(forKey key: Key) -> Value? {
        logged(nil) { () throws(EBPFError) -> Value? in
            let old = try value(forKey: key)
            self[key] = nil
            return old
        }
    }

    /// Deletes every entry (for arrays: zeroes every element).
    public func removeAll() {
        logged(()) { () throws(EBPFError) in try access.clear() }
    }

    /// Every entry present now; throws what the kernel reported.
    public func snapshot() throws(EBPFError) -> [(key: Key, value: Value)] {
        try access.items().map { item in
            (item.key.withUnsafeBytes { $0.loadUnaligned(as: Key.self) },
             item.value.withUnsafeBytes { $0.loadUnaligned(as: Value.self) })
        }
    }

    /// Every entry present now.
    public var items: [(key: Key, value: Value)] { logged([]) { () throws(EBPFError) in try snapshot() } }
    public var keys: [Key] { items.map(\.key) }
    public var values: [Value] { items.map(\.value) }
    public var count: Int { logged(0) { () throws(EBPFError) in access.isArray ? access.maxEntries : try access.keys().count } }
}

/// A per-CPU table (`BPF_PERCPU_HASH`, `BPF_PERCPU_ARRAY`) read and written as Swift values:
/// each key holds one value per possible CPU.
public final class PerCPUTable<Key: BitwiseCopyable, Value: BitwiseCopyable>: Sendable {
    let access: MapAccess
    let logger: Logger

    init(access: MapAccess, logger: Logger) {
        self.access = access
        self.logger = logger
    }

    public var name: String { access.name }
    /// How many values each key has.
    public var possibleCPUs: Int { access.possibleCPUs }

    private func decode(_ buffer: [UInt8]) -> [Value] {
        access.perCPUValues(buffer).map { bytes in bytes.withUnsafeBytes { $0.loadUnaligned(as: Value.self) } }
    }

    /// The values under `key`, one per possible CPU; nil when there is none.
    public func values(forKey key: Key) throws(EBPFError) -> [Value]? {
        try access.lookup(MapAccess.bytes(of: key)).map(decode)
    }

    /// Stores one value per possible CPU under `key`.
    public func updateValues(_ values: [Value], forKey key: Key) throws(EBPFError) {
        try access.update(MapAccess.bytes(of: key), access.perCPUBuffer(values.map { MapAccess.bytes(of: $0) }))
    }

    /// The values under `key`, one per possible CPU (nil when absent, or on a failure, which
    /// is logged); setting stores them.
    public subscript(key: Key) -> [Value]? {
        get {
            do { return try values(forKey: key) } catch {
                logger.error("table \(name): \(error)")
                return nil
            }
        }
        set {
            do {
                if let newValue { try updateValues(newValue, forKey: key) } else if !access.isArray {
                    try access.delete(MapAccess.bytes(of: key))
                }
            } catch {
                logger.error("table \(name): \(error)")
            }
        }
    }

    /// Every entry present now, with its per-CPU values.
    public func snapshot() throws(EBPFError) -> [(key: Key, value: [Value])] {
        try access.items().map { item in (item.key.withUnsafeBytes { $0.loadUnaligned(as: Key.self) }, decode(item.value)) }
    }

    /// Deletes every entry (for arrays: zeroes every element).
    public func removeAll() throws(EBPFError) {
        try access.clear()
    }
}

extension PerCPUTable where Value: BinaryInteger {
    /// The sum of `key`'s values over all CPUs; nil when absent.
    public func sum(forKey key: Key) throws(EBPFError) -> Value? {
        try values(forKey: key)?.reduce(0, +)
    }
}
