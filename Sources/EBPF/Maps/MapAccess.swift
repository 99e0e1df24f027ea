#if canImport(Glibc)
import Glibc
#endif

/// The raw operations on one map, shared by the untyped ``Table`` and the typed views. Keys
/// and values travel as bytes; for per-CPU maps a value holds every possible CPU's copy,
/// each rounded up to 8 bytes as the kernel lays them out.
struct MapAccess: Sendable {
    let name: String
    let fd: Int32
    let type: TableType
    let keySize: Int
    /// One value's size (one CPU's, for per-CPU maps).
    let valueSize: Int
    let maxEntries: Int
    let possibleCPUs: Int
    /// Keeps the map's file descriptor open for as long as a view exists.
    let module: BPFModule

    init(info: TableInfo, module: BPFModule) throws(EBPFError) {
        name = info.name
        fd = info.fd
        type = info.type
        keySize = info.keySize
        valueSize = info.leafSize
        maxEntries = info.maxEntries
        let possible = SystemFiles.parseCPUList(try SystemFiles.readText("/sys/devices/system/cpu/possible"))
        possibleCPUs = Int(possible.max() ?? 0) + 1
        self.module = module
    }

    var isPerCPU: Bool { [.perCPUHash, .perCPUArray, .lruPerCPUHash].contains(type) }
    var isArray: Bool { [.array, .perCPUArray].contains(type) }
    var isQueueOrStack: Bool { type == .queue || type == .stack }
    /// Bytes between two CPUs' copies of a per-CPU value.
    var perCPUStride: Int { (valueSize + 7) / 8 * 8 }
    /// Bytes of a whole value buffer as the kernel reads and writes it.
    var valueBufferSize: Int { isPerCPU ? perCPUStride * possibleCPUs : valueSize }

    private func failure(_ action: String, _ call: String, _ errno: Int32) -> EBPFError {
        EBPFError.fromErrno(.systemCallFailed, "could not \(action) table '\(name)'", call: call, errno: errno)
    }

    func checkKey(_ key: [UInt8]) throws(EBPFError) {
        guard key.count == keySize else {
            throw EBPFError(.invalidArgument, "a key of table '\(name)' is \(keySize) bytes; this one is \(key.count)")
        }
    }

    /// The value stored under `key`, or nil when there is none.
    func lookup(_ key: [UInt8]) throws(EBPFError) -> [UInt8]? {
        try checkKey(key)
        var key = key
        var value = [UInt8](repeating: 0, count: valueBufferSize)
        let result = LibBCC.lookup(fd: fd, key: &key, value: &value)
        if result.failed {
            if result.errno == ENOENT { return nil }
            throw failure("look up a key in", "bpf_lookup_elem", result.errno)
        }
        return value
    }

    /// Stores `value` under `key`. `flags`: 0 any, 1 only if absent, 2 only if present.
    func update(_ key: [UInt8], _ value: [UInt8], flags: UInt64 = 0) throws(EBPFError) {
        try checkKey(key)
        guard value.count == valueBufferSize else {
            throw EBPFError(.invalidArgument, "a value of table '\(name)' is \(valueBufferSize) bytes; this one is \(value.count)")
        }
        var key = key
        var value = value
        let result = LibBCC.update(fd: fd, key: &key, value: &value, flags: flags)
        if result.failed {
            let hint = result.errno == E2BIG ? " (it is full: \(maxEntries) entries)" : ""
            throw failure("update\(hint)", "bpf_update_elem", result.errno)
        }
    }

    /// Deletes `key`; false when it was not there. Arrays cannot delete: use `zero`.
    @discardableResult
    func delete(_ key: [UInt8]) throws(EBPFError) -> Bool {
        try checkKey(key)
        var key = key
        let result = LibBCC.delete(fd: fd, key: &key)
        if result.failed {
            if result.errno == ENOENT { return false }
            throw failure("delete a key from", "bpf_delete_elem", result.errno)
        }
        return true
    }

    /// Every key present now. Tolerates the kernel adding and deleting keys meanwhile: a
    /// walk that a deletion restarts skips the keys it has seen, and the walk is bounded.
    func keys() throws(EBPFError) -> [[UInt8]] {
        var keys: [[UInt8]] = []
        var seen = Set<[UInt8]>()
        var current: [UInt8]?
        var next = [UInt8](repeating: 0, count: keySize)
        for _ in 0..<(2 * maxEntries + 16) {
            let result: LibBCC.Result
            if var key = current {
                result = LibBCC.nextKey(fd: fd, key: &key, next: &next, keySize: keySize)
            } else {
                result = LibBCC.nextKey(fd: fd, key: nil, next: &next, keySize: keySize)
            }
            if result.failed {
                if result.errno == ENOENT { break }
                throw failure("walk", "bpf_get_next_key", result.errno)
            }
            if seen.insert(next).inserted { keys.append(next) }
            current = next
        }
        return keys
    }

    /// Every entry present now, looked up key by key (keys deleted meanwhile are skipped).
    func items() throws(EBPFError) -> [(key: [UInt8], value: [UInt8])] {
        var items: [(key: [UInt8], value: [UInt8])] = []
        for key in try keys() {
            if let value = try lookup(key) { items.append((key, value)) }
        }
        return items
    }

    /// Reads and deletes every entry: one `BPF_MAP_LOOKUP_AND_DELETE_BATCH` call per
    /// `maxEntries` where the kernel supports it (5.6+), else key by key.
    func takeAll() throws(EBPFError) -> [(key: [UInt8], value: [UInt8])] {
        guard !isArray else {
            throw EBPFError(.invalidArgument, "array '\(name)' cannot delete entries; read it with items() and reset it with zero()")
        }
        let capacity = max(1, maxEntries)
        var keys = [UInt8](repeating: 0, count: keySize * capacity)
        var values = [UInt8](repeating: 0, count: valueBufferSize * capacity)
        var taken: [(key: [UInt8], value: [UInt8])] = []
        var cursor: UInt32 = 0
        var first = true
        while true {
            var count = UInt32(capacity)
            var out: UInt32 = 0
            let result = keys.withUnsafeMutableBytes { k in
                values.withUnsafeMutableBytes { v in
                    first
                        ? LibBCC.lookupAndDeleteBatch(fd: fd, inBatch: nil, outBatch: &out, keys: k.baseAddress!, values: v.baseAddress!, count: &count)
                        : LibBCC.lookupAndDeleteBatch(fd: fd, inBatch: &cursor, outBatch: &out, keys: k.baseAddress!, values: v.baseAddress!, count: &count)
                }
            }
            if result.failed, result.errno != ENOENT {
                if first, [EINVAL, ENOTSUP, EOPNOTSUPP, ENOSYS].contains(result.errno) {
                    return try takeKeyByKey()
                }
                throw failure("batch-read", "bpf_lookup_and_delete_batch", result.errno)
            }
            for index in 0..<Int(count) {
                taken.append((
                    Array(keys[index * keySize..<(index + 1) * keySize]),
                    Array(values[index * valueBufferSize..<(index + 1) * valueBufferSize])))
            }
            if result.failed { break }  // ENOENT: the walk is done
            cursor = out
            first = false
        }
        return taken
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
            throw EBPFError(.invalidArgument, "table '\(name)' is a \(type), not an array; use clear() to delete its entries")
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
