#if canImport(Glibc)
import Glibc
#endif
import EBPFKernel
import EBPFProgram

/// The raw operations on one map, shared by the untyped ``Table`` and the typed views. Keys
/// and values travel as bytes; for per-CPU maps a value holds every possible CPU's copy,
/// each rounded up to 8 bytes as the kernel lays them out.
///
/// Every call reaches the map through its module, which throws ``EBPFError/Code/closed``
/// once the wrapper was closed, or through a descriptor of its own for a map opened by pin
/// or id.
struct MapAccess: Sendable {
    /// Where the map's descriptor comes from.
    enum Source: Sendable {
        case module(BPFModule)
        /// A map opened by its pin or id: the descriptor closes with the last view.
        case opened(OpenedMap)
    }

    /// A descriptor of a map this process opened by pin or id.
    final class OpenedMap: Sendable {
        let descriptor: FileDescriptor
        init(_ descriptor: consuming FileDescriptor) { self.descriptor = descriptor }
    }

    let name: String
    let type: TableType
    let keySize: Int
    /// One value's size (one CPU's, for per-CPU maps).
    let valueSize: Int
    let maxEntries: Int
    let possibleCPUs: Int
    let source: Source

    init(info: TableInfo, module: BPFModule) throws(EBPFError) {
        name = info.name
        type = info.type
        keySize = info.keySize
        valueSize = info.leafSize
        maxEntries = info.maxEntries
        possibleCPUs = try SystemFiles.possibleCPUCount()
        source = .module(module)
    }

    /// A map opened by pin or id, as the kernel describes it.
    init(opened descriptor: consuming FileDescriptor, info: ObjectPins.MapInfo) throws(EBPFError) {
        name = info.name
        type = TableType(rawValue: info.type)
        keySize = info.keySize
        valueSize = info.valueSize
        maxEntries = info.maxEntries
        possibleCPUs = try SystemFiles.possibleCPUCount()
        source = .opened(OpenedMap(descriptor))
    }

    var isPerCPU: Bool { [.perCPUHash, .perCPUArray, .lruPerCPUHash].contains(type) }
    var isArray: Bool { [.array, .perCPUArray].contains(type) }
    var isQueueOrStack: Bool { type == .queue || type == .stack }
    /// Bytes between two CPUs' copies of a per-CPU value.
    var perCPUStride: Int { (valueSize + 7) / 8 * 8 }
    /// Bytes of a whole value buffer as the kernel reads and writes it.
    var valueBufferSize: Int { isPerCPU ? perCPUStride * possibleCPUs : valueSize }

    /// Runs `body` with the map's descriptor; a failed call becomes an error that says
    /// `action` (`"look up a key in"`), unless `absent` turns ENOENT into a value.
    func withMap<T>(
        _ action: String, absent: T? = nil, _ body: (borrowing BorrowedDescriptor) throws(SystemCallFailure) -> T
    ) throws(EBPFError) -> T {
        try withDescriptor { (map) throws(EBPFError) -> T in
            do throws(SystemCallFailure) {
                return try body(map)
            } catch {
                if error.errno == ENOENT, let absent { return absent }
                throw error.error(.systemCallFailed, "could not \(action) table '\(name)'")
            }
        }
    }

    /// Runs `body` with the map's descriptor.
    func withDescriptor<T>(_ body: (borrowing BorrowedDescriptor) throws(EBPFError) -> T) throws(EBPFError) -> T {
        switch source {
        case .module(let module): return try module.withTable(name, body)
        case .opened(let map): return try map.descriptor.lend(body)
        }
    }

    func checkKey(_ key: [UInt8]) throws(EBPFError) {
        guard key.count == keySize else {
            throw EBPFError(.invalidArgument, "a key of table '\(name)' is \(keySize) bytes; this one is \(key.count)")
        }
    }

    private func checkValue(_ value: [UInt8]) throws(EBPFError) {
        guard value.count == valueBufferSize else {
            throw EBPFError(
                .invalidArgument, "a value of table '\(name)' is \(valueBufferSize) bytes; this one is \(value.count)")
        }
    }

    /// The value stored under `key` (nil: the head of a queue or stack), or nil when there is none.
    func lookup(_ key: [UInt8]?) throws(EBPFError) -> [UInt8]? {
        if let key { try checkKey(key) }
        var key = key
        var value = [UInt8](repeating: 0, count: valueBufferSize)
        let found = try withMap("look up a key in", absent: false) { (map) throws(SystemCallFailure) -> Bool in
            if key == nil {
                try LibBCC.MapCalls.lookup(map: map, key: nil, value: &value)
            } else {
                try LibBCC.MapCalls.lookup(map: map, key: &key!, value: &value)
            }
            return true
        }
        return found ? value : nil
    }

    /// Stores `value` under `key` (nil: pushes onto a queue or stack). `flags`: 0 any, 1 only
    /// if absent, 2 only if present.
    func update(_ key: [UInt8]?, _ value: [UInt8], flags: UInt64 = 0) throws(EBPFError) {
        if let key { try checkKey(key) }
        try checkValue(value)
        var key = key
        var value = value
        do throws(EBPFError) {
            try withMap("update") { (map) throws(SystemCallFailure) in
                if key == nil {
                    try LibBCC.MapCalls.update(map: map, key: nil, value: &value, flags: flags)
                } else {
                    try LibBCC.MapCalls.update(map: map, key: &key!, value: &value, flags: flags)
                }
            }
        } catch  where error.errno == E2BIG {
            throw EBPFError(
                .systemCallFailed, "could not update table '\(name)': it is full (\(maxEntries) entries)",
                call: error.call, errno: error.errno)
        }
    }

    /// Deletes `key`; false when it was not there. Arrays cannot delete: use `zero`.
    @discardableResult
    func delete(_ key: [UInt8]) throws(EBPFError) -> Bool {
        try checkKey(key)
        var key = key
        return try withMap("delete a key from", absent: false) { (map) throws(SystemCallFailure) -> Bool in
            try LibBCC.MapCalls.delete(map: map, key: &key)
            return true
        }
    }

    /// Deletes `key`, or for arrays (which cannot delete) zeroes its element.
    func remove(_ key: [UInt8]) throws(EBPFError) {
        if isArray {
            try update(key, [UInt8](repeating: 0, count: valueBufferSize))
        } else {
            try delete(key)
        }
    }

    /// How many entries there are now (for arrays, `maxEntries`).
    func count() throws(EBPFError) -> Int {
        isArray ? maxEntries : try keys().count
    }

    /// Removes and returns the head of a queue or stack; nil when it is empty.
    func pop() throws(EBPFError) -> [UInt8]? {
        var value = [UInt8](repeating: 0, count: valueBufferSize)
        let found = try withMap("pop from", absent: false) { (map) throws(SystemCallFailure) -> Bool in
            try LibBCC.MapCalls.lookupAndDelete(map: map, key: nil, value: &value)
            return true
        }
        return found ? value : nil
    }

    /// Every key present now. Tolerates the kernel adding and deleting keys meanwhile: a
    /// walk that a deletion restarts skips the keys it has seen, and the walk is bounded.
    func keys() throws(EBPFError) -> [[UInt8]] {
        try withMap("walk") { (map) throws(SystemCallFailure) -> [[UInt8]] in
            var keys: [[UInt8]] = []
            var seen = Set<[UInt8]>()
            var current: [UInt8]?
            var next = [UInt8](repeating: 0, count: keySize)
            for _ in 0..<(2 * maxEntries + 16) {
                do throws(SystemCallFailure) {
                    if current == nil {
                        try LibBCC.MapCalls.nextKey(map: map, key: nil, next: &next, keySize: keySize)
                    } else {
                        try LibBCC.MapCalls.nextKey(map: map, key: &current!, next: &next, keySize: keySize)
                    }
                } catch  where error.errno == ENOENT {
                    break
                }
                if seen.insert(next).inserted { keys.append(next) }
                current = next
            }
            return keys
        }
    }

    /// Every entry present now: `BPF_MAP_LOOKUP_BATCH` calls where the kernel supports them
    /// for this map (5.6+; a thousand keys in a few calls instead of two thousand), else
    /// looked up key by key (keys deleted meanwhile are skipped).
    func items() throws(EBPFError) -> [(key: [UInt8], value: [UInt8])] {
        let batched = try withMap("batch-read", absent: nil) {
            (map) throws(SystemCallFailure) -> [(key: [UInt8], value: [UInt8])]? in
            try inBatches(map, deleting: false)
        }
        if let batched { return batched }
        var items: [(key: [UInt8], value: [UInt8])] = []
        for key in try keys() {
            if let value = try lookup(key) { items.append((key, value)) }
        }
        return items
    }

    /// Reads and deletes every entry: `BPF_MAP_LOOKUP_AND_DELETE_BATCH` calls where the
    /// kernel supports it (5.6+), else key by key. Memory follows the entries present, not
    /// `maxEntries`: each call moves at most ``batchBytes`` of keys and values.
    func takeAll() throws(EBPFError) -> [(key: [UInt8], value: [UInt8])] {
        guard !isArray else {
            throw EBPFError(
                .invalidArgument, "array '\(name)' cannot delete entries; read it with items() and reset it with zero()"
            )
        }
        let batched = try withMap("batch-read", absent: nil) {
            (map) throws(SystemCallFailure) -> [(key: [UInt8], value: [UInt8])]? in
            try inBatches(map, deleting: true)
        }
        if let batched { return batched }
        return try takeKeyByKey()
    }

    /// The most key and value bytes one batch call moves: an empty 1M-entry per-CPU hash on
    /// a 256-CPU host would otherwise ask for 16 GiB before reading anything.
    static let batchBytes = 1 << 20

    /// Every entry, read (and deleted, when `deleting`) in batch calls; nil when the kernel
    /// has no batch operations for this map.
    private func inBatches(_ map: borrowing BorrowedDescriptor, deleting: Bool) throws(SystemCallFailure) -> [(
        key: [UInt8], value: [UInt8]
    )]? {
        var capacity = min(max(1, maxEntries), max(16, Self.batchBytes / (keySize + valueBufferSize)))
        var keys = [UInt8](repeating: 0, count: keySize * capacity)
        var values = [UInt8](repeating: 0, count: valueBufferSize * capacity)
        var taken: [(key: [UInt8], value: [UInt8])] = []
        var cursor: UInt32 = 0
        var first = true
        while true {
            var count = UInt32(capacity)
            var out: UInt32 = 0
            var done = false
            do throws(SystemCallFailure) {
                try keys.withUnsafeMutableBufferPointer { (k) throws(SystemCallFailure) in
                    try values.withUnsafeMutableBufferPointer { (v) throws(SystemCallFailure) in
                        try withUnsafeMutablePointer(to: &cursor) { (position) throws(SystemCallFailure) in
                            try LibBCC.MapCalls.lookupBatch(
                                map: map, deleting: deleting, inBatch: first ? nil : position, outBatch: &out,
                                keys: k.baseAddress!, values: v.baseAddress!, count: &count)
                        }
                    }
                }
            } catch  where error.errno == ENOENT {
                done = true  // The walk is over; `count` entries came with it.
            } catch  where first && [EINVAL, ENOTSUP, EOPNOTSUPP, ENOSYS].contains(error.errno) {
                return nil
            } catch  where error.errno == ENOSPC && count == 0 && capacity < maxEntries {
                // One hash bucket holds more entries than a call may return: the kernel
                // takes a bucket whole, so retry the same position with room for it.
                capacity = min(maxEntries, capacity * 2)
                keys = [UInt8](repeating: 0, count: keySize * capacity)
                values = [UInt8](repeating: 0, count: valueBufferSize * capacity)
                continue
            }
            for index in 0..<Int(count) {
                taken.append(
                    (
                        Array(keys[index * keySize..<(index + 1) * keySize]),
                        Array(values[index * valueBufferSize..<(index + 1) * valueBufferSize])
                    ))
            }
            if done { return taken }
            cursor = out
            first = false
        }
    }

    private func takeKeyByKey() throws(EBPFError) -> [(key: [UInt8], value: [UInt8])] {
        var taken: [(key: [UInt8], value: [UInt8])] = []
        for key in try keys() {
            if let value = try lookup(key), try delete(key) { taken.append((key, value)) }
        }
        return taken
    }

    /// Deletes every entry of a hash-like map, or zeroes every element of an array.
    func clear() throws(EBPFError) {
        if isArray { return try zero() }
        for key in try keys() { try delete(key) }
    }

    /// Sets every element of an array to zero (arrays cannot delete).
    func zero() throws(EBPFError) {
        guard isArray else {
            throw EBPFError(
                .invalidArgument, "table '\(name)' is a \(type), not an array; use clear() to delete its entries")
        }
        let zeros = [UInt8](repeating: 0, count: valueBufferSize)
        for index in 0..<maxEntries {
            try update(Self.bytes(of: UInt32(index), size: keySize), zeros)
        }
    }

    /// Splits a per-CPU value buffer into one value per possible CPU.
    func perCPUValues(_ buffer: [UInt8]) -> [[UInt8]] {
        (0..<possibleCPUs).map { cpu in Array(buffer[cpu * perCPUStride..<cpu * perCPUStride + valueSize]) }
    }

    /// Joins one value per possible CPU into a per-CPU value buffer.
    func perCPUBuffer(_ values: [[UInt8]]) throws(EBPFError) -> [UInt8] {
        guard values.count == possibleCPUs, values.allSatisfy({ $0.count == valueSize }) else {
            throw EBPFError(
                .invalidArgument,
                "table '\(name)' is per-CPU: give \(possibleCPUs) values (one per possible CPU) of \(valueSize) bytes")
        }
        var buffer = [UInt8](repeating: 0, count: valueBufferSize)
        for (cpu, value) in values.enumerated() {
            buffer.replaceSubrange(cpu * perCPUStride..<cpu * perCPUStride + valueSize, with: value)
        }
        return buffer
    }

    /// The little-endian bytes of an integer, in `size` bytes (for array indexes and scalar keys).
    static func bytes(of value: some BinaryInteger, size: Int) -> [UInt8] {
        let wide = UInt64(truncatingIfNeeded: value)
        return (0..<size).map { $0 < 8 ? UInt8(truncatingIfNeeded: wide >> (8 * UInt64($0))) : 0 }
    }

    static func bytes<T: BitwiseCopyable>(of value: T) -> [UInt8] {
        withUnsafeBytes(of: value) { Array($0) }
    }
}
