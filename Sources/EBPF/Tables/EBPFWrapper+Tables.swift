import EBPFKernel
import EBPFProgram

extension EBPFWrapper where Program == CProgram {
    /// The table (map) `name` of the program, decoded by name, as bcc's `b["name"]`:
    /// `try b.table("counts").items()`, `try b.table("events").openPerfBuffer { … }`.
    ///
    /// - Throws: ``EBPFError/Code/tableNotFound``, ``EBPFError/Code/decodingFailed`` when
    ///   libbcc's description of its key or value cannot be laid out (use a typed view).
    public func table(_ name: String) throws(EBPFError) -> Table {
        let (module, info) = try tableInfo(name)
        return try Table(access: MapAccess(info: info, module: module), info: info, session: session)
    }

    /// A typed view of the table `name`, read and written as `Key` and `Value`, Swift types
    /// with the layout of the map's C key and value (`UInt32`, `UInt64`, a struct mirroring
    /// the C struct).
    ///
    /// - Throws: ``EBPFError/Code/decodingFailed`` when `Key` or `Value` has not the map's
    ///   key or value size (checked here, so a wrong type cannot corrupt memory), has a field
    ///   that cannot hold every byte pattern (a `Bool`, an enum, an `Optional`), or when the
    ///   table is per-CPU (use ``perCPUTable(_:key:value:)``).
    public func table<Key: BitwiseCopyable, Value: BitwiseCopyable>(
        _ name: String, key: Key.Type, value: Value.Type
    ) throws(EBPFError) -> TypedTable<Key, Value> {
        let (module, info) = try tableInfo(name)
        let access = try MapAccess(info: info, module: module)
        if access.isPerCPU {
            throw EBPFError(
                .decodingFailed,
                "table '\(name)' is \(info.type): each key has one value per CPU; use perCPUTable(\"\(name)\", key:value:)"
            )
        }
        try Self.checkLayout(Key.self, info.keySize, table: name, what: "key")
        try Self.checkLayout(Value.self, info.leafSize, table: name, what: "value")
        return TypedTable(access: access)
    }

    /// A typed view of the per-CPU table `name`: each key holds one `Value` per possible CPU.
    ///
    /// - Throws: ``EBPFError/Code/decodingFailed`` for a size mismatch, a field that cannot
    ///   hold every byte pattern, or a table that is not per-CPU.
    public func perCPUTable<Key: BitwiseCopyable, Value: BitwiseCopyable>(
        _ name: String, key: Key.Type, value: Value.Type
    ) throws(EBPFError) -> PerCPUTable<Key, Value> {
        let (module, info) = try tableInfo(name)
        let access = try MapAccess(info: info, module: module)
        guard access.isPerCPU else {
            throw EBPFError(
                .decodingFailed, "table '\(name)' is a \(info.type), not per-CPU; use table(\"\(name)\", key:value:)")
        }
        try Self.checkLayout(Key.self, info.keySize, table: name, what: "key")
        try Self.checkLayout(Value.self, info.leafSize, table: name, what: "value")
        return PerCPUTable(access: access)
    }

    private func tableInfo(_ name: String) throws(EBPFError) -> (BPFModule, TableInfo) {
        try session.checkOpen()
        let module = try session.nativeModule()
        return (module, try module.table(name))
    }

    private static func checkLayout<T: BitwiseCopyable>(
        _ type: T.Type, _ size: Int, table: String, what: String
    ) throws(EBPFError) {
        try PlainData.check(T.self, as: "the \(what) type of table '\(table)'")
        // C's sizeof includes tail padding, which Swift's stride has and its size lacks.
        guard MemoryLayout<T>.size == size || MemoryLayout<T>.stride == size else {
            throw EBPFError(
                .decodingFailed,
                "\(T.self) is \(MemoryLayout<T>.size) bytes but the \(what) of table '\(table)' is \(size) bytes; use a Swift type with the C type's layout"
            )
        }
    }
}
