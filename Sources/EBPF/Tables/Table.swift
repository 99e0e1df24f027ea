import EBPFKernel
import EBPFProgram

/// A table (BPF map) of a compiled program, its keys and values decoded by name from
/// libbcc's descriptions: the counterpart of bcc's `b["counts"]`.
///
/// Reads are snapshots: ``items()`` lists the keys present, then looks each up, so entries the
/// kernel adds or deletes meanwhile are simply in or out. For typed access that reads like a
/// Swift `Dictionary`, see ``EBPFWrapper/table(_:key:value:)``.
public final class Table: Sendable, CustomStringConvertible {
    let access: MapAccess
    let keyLayout: TableTypeLayout?
    let valueLayout: TableTypeLayout
    /// The wrapper's state: a buffer opened on the table is the wrapper's to close.
    let session: Session

    init(access: MapAccess, info: TableInfo, session: Session) throws(EBPFError) {
        self.access = access
        self.session = session
        // A ring buffer map has neither keys nor values (sizes 0); libbcc still describes
        // the types its declaration named.
        let described = access.type != .ringBuffer
        keyLayout =
            access.isQueueOrStack
            ? nil
            : try TableTypeLayout.make(
                description: described ? info.keyDescription : nil, size: info.keySize, table: info.name, what: "key")
        valueLayout = try TableTypeLayout.make(
            description: described ? info.leafDescription : nil, size: info.leafSize, table: info.name, what: "value")
    }

    public var name: String { access.name }
    public var type: TableType { access.type }
    public var keySize: Int { access.keySize }
    /// The size of one value (one CPU's, for per-CPU tables).
    public var valueSize: Int { access.valueSize }
    public var maxEntries: Int { access.maxEntries }
    /// For per-CPU tables, how many values each key has: one per possible CPU.
    public var possibleCPUs: Int { access.possibleCPUs }

    func key(_ bytes: [UInt8]) -> TableValue {
        bytes.withUnsafeBytes { TableValue(layout: keyLayout ?? valueLayout, bytes: $0) }
    }

    func value(_ bytes: [UInt8]) -> TableValue {
        bytes.withUnsafeBytes { TableValue(layout: valueLayout, bytes: $0) }
    }

    private func checkNotPerCPU(_ operation: String) throws(EBPFError) {
        if access.isPerCPU {
            throw EBPFError(
                .invalidArgument, "table '\(name)' is \(type): use \(operation) (one value per possible CPU)")
        }
    }

    // MARK: Reading

    /// Every key present now.
    public func keys() throws(EBPFError) -> [TableValue] {
        try access.keys().map(key)
    }

    /// Every entry present now. For per-CPU tables use ``perCPUItems()``.
    public func items() throws(EBPFError) -> [TableEntry<TableValue, TableValue>] {
        try checkNotPerCPU("perCPUItems()")
        return try access.items().map { TableEntry(key: key($0.key), value: value($0.value)) }
    }

    /// Every value present now, in key order. For per-CPU tables use ``perCPUItems()``.
    public func values() throws(EBPFError) -> [TableValue] {
        try items().map(\.value)
    }

    /// Every entry of a per-CPU table, with one value per possible CPU.
    public func perCPUItems() throws(EBPFError) -> [TableEntry<TableValue, [TableValue]>] {
        try access.items().map { item in
            TableEntry(
                key: key(item.key),
                value: access.isPerCPU ? access.perCPUValues(item.value).map(value) : [value(item.value)])
        }
    }

    /// The value under a key given as a Swift value of the key's layout (`UInt32(5)`, or a
    /// struct mirroring the C key); nil when absent.
    public func lookup<Key: BitwiseCopyable>(_ key: Key) throws(EBPFError) -> TableValue? {
        try checkNotPerCPU("perCPULookup(_:)")
        return try access.lookup(MapAccess.bytes(of: key)).map(value)
    }

    /// The values under a key of a per-CPU table, one per possible CPU; nil when absent.
    public func perCPULookup<Key: BitwiseCopyable>(_ key: Key) throws(EBPFError) -> [TableValue]? {
        guard let buffer = try access.lookup(MapAccess.bytes(of: key)) else { return nil }
        return access.isPerCPU ? access.perCPUValues(buffer).map(value) : [value(buffer)]
    }

    /// How many entries there are now (for arrays, ``maxEntries``).
    public func count() throws(EBPFError) -> Int {
        try access.count()
    }

    // MARK: Writing

    /// Stores `value` under `key`, both Swift values of the table's layouts.
    public func update<Key: BitwiseCopyable, Value: BitwiseCopyable>(key: Key, value: Value) throws(EBPFError) {
        try checkNotPerCPU("a typed per-CPU view (perCPUTable)")
        try access.update(MapAccess.bytes(of: key), MapAccess.bytes(of: value))
    }

    /// Deletes `key`; false when it was not there.
    @discardableResult
    public func delete<Key: BitwiseCopyable>(_ key: Key) throws(EBPFError) -> Bool {
        if access.isArray {
            throw EBPFError(.invalidArgument, "array '\(name)' cannot delete entries; zero() resets them")
        }
        return try access.delete(MapAccess.bytes(of: key))
    }

    /// Deletes every entry (for arrays: sets every element to zero), as bcc's `clear()`.
    public func clear() throws(EBPFError) {
        try access.clear()
    }

    /// Sets every element of an array to zero, as bcc's `zero()`.
    public func zero() throws(EBPFError) {
        try access.zero()
    }

    /// Reads and deletes every entry, in one batch system call where the kernel supports it
    /// (5.6+), as bcc's `items_lookup_and_delete_batch()`: counts read this way are not
    /// lost or counted twice between two reads.
    public func takeItems() throws(EBPFError) -> [TableEntry<TableValue, TableValue>] {
        try checkNotPerCPU("perCPUTable(_:key:value:) and its takeSnapshot()")
        return try access.takeAll().map { TableEntry(key: key($0.key), value: value($0.value)) }
    }

    // MARK: Queues and stacks

    private func checkQueueOrStack() throws(EBPFError) {
        guard access.isQueueOrStack else {
            throw EBPFError(
                .invalidArgument, "table '\(name)' is a \(type), not a queue or stack (BPF_QUEUE, BPF_STACK)")
        }
    }

    /// Appends a value to a queue or stack.
    public func push<Value: BitwiseCopyable>(_ value: Value) throws(EBPFError) {
        try checkQueueOrStack()
        try access.update(nil, MapAccess.bytes(of: value))
    }

    /// Removes and returns the next value of a queue (oldest) or stack (newest); nil when empty.
    public func pop() throws(EBPFError) -> TableValue? {
        try checkQueueOrStack()
        return try access.pop().map(value)
    }

    /// The next value of a queue or stack without removing it; nil when empty.
    public func peek() throws(EBPFError) -> TableValue? {
        try checkQueueOrStack()
        return try access.lookup(nil).map(value)
    }

    // MARK: Stack traces

    /// The instruction addresses of stack `id` in a `BPF_STACK_TRACE` table, innermost first,
    /// as bcc's `walk(id)`; empty for a negative id (the program's `get_stackid` failed) or an
    /// id no longer stored. Resolve them with ``SymbolResolver/ksym(_:showModule:showOffset:)``
    /// or ``SymbolResolver/sym(_:pid:showModule:showOffset:demangle:)``.
    public func stack(id: Int) throws(EBPFError) -> [UInt64] {
        guard type == .stackTrace else {
            throw EBPFError(.invalidArgument, "table '\(name)' is a \(type), not a stack trace table (BPF_STACK_TRACE)")
        }
        guard id >= 0, let bytes = try access.lookup(MapAccess.bytes(of: UInt32(id), size: keySize)) else { return [] }
        return StackTable.addresses(in: bytes, depth: .max)
    }

    public var description: String {
        "Table(\(name), \(type), key \(keySize) B, value \(valueSize) B, max \(maxEntries))"
    }
}
