internal import CBCC

#if canImport(Glibc)
import Glibc
#endif

extension LibBCC {
    // MARK: Map elements

    /// `bpf_lookup_elem`; `key` is nil for queues and stacks (peek).
    static func lookup(fd: Int32, key: UnsafeMutableRawPointer?, value: UnsafeMutableRawPointer) -> Result {
        Glibc.errno = 0
        let rc = bpf_lookup_elem(fd, key, value)
        return Result(value: rc, errno: Glibc.errno)
    }

    /// `bpf_update_elem`; `key` is nil for queues and stacks (push).
    static func update(fd: Int32, key: UnsafeMutableRawPointer?, value: UnsafeMutableRawPointer, flags: UInt64) -> Result {
        Glibc.errno = 0
        let rc = bpf_update_elem(fd, key, value, flags)
        return Result(value: rc, errno: Glibc.errno)
    }

    static func delete(fd: Int32, key: UnsafeMutableRawPointer) -> Result {
        Glibc.errno = 0
        let rc = bpf_delete_elem(fd, key)
        return Result(value: rc, errno: Glibc.errno)
    }

    /// `bpf_lookup_and_delete`; `key` is nil for queues and stacks (pop).
    static func lookupAndDelete(fd: Int32, key: UnsafeMutableRawPointer?, value: UnsafeMutableRawPointer) -> Result {
        Glibc.errno = 0
        let rc = bpf_lookup_and_delete(fd, key, value)
        return Result(value: rc, errno: Glibc.errno)
    }

    /// The key after `key`, or the first key when `key` is nil; ENOENT past the last.
    static func nextKey(fd: Int32, key: UnsafeMutableRawPointer?, next: UnsafeMutableRawPointer, keySize: Int) -> Result {
        Glibc.errno = 0
        let rc = key.map { bpf_get_next_key(fd, $0, next) } ?? bpf_get_first_key(fd, next, keySize)
        return Result(value: rc, errno: Glibc.errno)
    }

    /// One `BPF_MAP_LOOKUP_AND_DELETE_BATCH` call: up to `count` entries into `keys` and
    /// `values`; `count` is set to how many came. `inBatch`/`outBatch` carry the cursor.
    static func lookupAndDeleteBatch(
        fd: Int32, inBatch: UnsafeMutablePointer<UInt32>?, outBatch: UnsafeMutablePointer<UInt32>,
        keys: UnsafeMutableRawPointer, values: UnsafeMutableRawPointer, count: inout UInt32
    ) -> Result {
        Glibc.errno = 0
        let rc = bpf_lookup_and_delete_batch(fd, inBatch, outBatch, keys, values, &count)
        return Result(value: rc, errno: Glibc.errno)
    }

    // MARK: Symbols

    /// A libbcc symbol cache: `pid` -1 for the kernel (kallsyms), else a process's mappings.
    typealias SymbolCache = UnsafeMutableRawPointer

    static func newSymbolCache(pid: Int32) -> SymbolCache? {
        if pid < 0 { return bcc_symcache_new(-1, nil) }
        var options = bcc_symbol_option(
            use_debug_file: 1, check_debug_file_crc: 1, lazy_symbolize: 1, use_symbol_type: UInt32(BCC_SYM_ALL_TYPES))
        return bcc_symcache_new(pid, &options)
    }

    static func freeSymbolCache(_ cache: SymbolCache, pid: Int32) {
        bcc_free_symcache(cache, pid)
    }

    /// The symbol holding `address`: its (demangled, when asked) name, module and offset.
    static func resolve(_ cache: SymbolCache, address: UInt64, demangle: Bool) -> (name: String, module: String, offset: UInt64)? {
        var symbol = bcc_symbol()
        let rc = demangle
            ? bcc_symcache_resolve(cache, address, &symbol)
            : bcc_symcache_resolve_no_demangle(cache, address, &symbol)
        defer { if demangle { bcc_symbol_free_demangle_name(&symbol) } }
        guard rc == 0, let raw = symbol.name else { return nil }
        let name = demangle ? (symbol.demangle_name.map { String(cString: $0) } ?? String(cString: raw)) : String(cString: raw)
        return (name, symbol.module.map { String(cString: $0) } ?? "", symbol.offset)
    }

    /// The address of a symbol by name (`module` nil for the kernel's).
    static func resolveName(_ cache: SymbolCache, module: String?, name: String) -> UInt64? {
        var address: UInt64 = 0
        guard bcc_symcache_resolve_name(cache, module, name, &address) == 0 else { return nil }
        return address
    }
}
