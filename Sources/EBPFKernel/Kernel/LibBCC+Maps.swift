internal import CBCC
internal import CKernelABI

#if canImport(Glibc)
import Glibc
#endif

extension LibBCC {
    /// The element operations on one map, by its descriptor. A nil `key` addresses queues and
    /// stacks (push, pop, peek). Failures throw, ENOENT included: callers decide what absence means.
    package enum MapCalls {
        package static func lookup(
            map: borrowing BorrowedDescriptor, key: UnsafeMutableRawPointer?, value: UnsafeMutableRawPointer
        )
            throws(SystemCallFailure)
        {
            try SystemCall.check("bpf_lookup_elem") { LibBCC.runtime.bpf_lookup_elem!(map.rawValue, key, value) }
        }

        /// `flags`: 0 any, 1 only if absent, 2 only if present.
        package static func update(
            map: borrowing BorrowedDescriptor, key: UnsafeMutableRawPointer?, value: UnsafeMutableRawPointer,
            flags: UInt64
        ) throws(SystemCallFailure) {
            try SystemCall.check("bpf_update_elem") { LibBCC.runtime.bpf_update_elem!(map.rawValue, key, value, flags) }
        }

        /// Stores the cgroup whose directory is `path` (on the cgroup2 mount) in entry `index`
        /// of the cgroup array `map`: the map keeps the cgroup, not the descriptor, which is
        /// closed again.
        package static func storeCgroup(
            at path: String, in map: borrowing BorrowedDescriptor, index: UInt32
        ) throws(SystemCallFailure) {
            let directory = try FileDescriptor.open(path, O_RDONLY | O_DIRECTORY)
            var key = index
            try directory.lend { (cgroup) throws(SystemCallFailure) in
                var value = UInt32(bitPattern: cgroup.rawValue)
                try update(map: map, key: &key, value: &value, flags: 0)
            }
        }

        /// Stores the object behind `descriptor` (a program for a program array, a socket for
        /// an XSK map) in entry `index` of `map`: the map keeps the object, not the number.
        package static func store(
            _ descriptor: borrowing BorrowedDescriptor, in map: borrowing BorrowedDescriptor, index: UInt32
        ) throws(SystemCallFailure) {
            var key = index
            var value = UInt32(bitPattern: descriptor.rawValue)
            try update(map: map, key: &key, value: &value, flags: 0)
        }

        /// As ``store(_:in:index:)``, for a descriptor numbered `number` of the library's user.
        package static func store(
            descriptorNumbered number: Int32, in map: borrowing BorrowedDescriptor, index: UInt32
        ) throws(SystemCallFailure) {
            try store(BorrowedDescriptor(lending: number), in: map, index: index)
        }

        package static func delete(map: borrowing BorrowedDescriptor, key: UnsafeMutableRawPointer)
            throws(SystemCallFailure)
        {
            try SystemCall.check("bpf_delete_elem") { LibBCC.runtime.bpf_delete_elem!(map.rawValue, key) }
        }

        package static func lookupAndDelete(
            map: borrowing BorrowedDescriptor, key: UnsafeMutableRawPointer?, value: UnsafeMutableRawPointer
        ) throws(SystemCallFailure) {
            try SystemCall.check("bpf_lookup_and_delete") {
                LibBCC.runtime.bpf_lookup_and_delete!(map.rawValue, key, value)
            }
        }

        /// The key after `key`, or the first key when `key` is nil; ENOENT past the last.
        package static func nextKey(
            map: borrowing BorrowedDescriptor, key: UnsafeMutableRawPointer?, next: UnsafeMutableRawPointer,
            keySize: Int
        ) throws(SystemCallFailure) {
            try SystemCall.check("bpf_get_next_key") {
                key.map { LibBCC.runtime.bpf_get_next_key!(map.rawValue, $0, next) }
                    ?? LibBCC.runtime.bpf_get_first_key!(map.rawValue, next, keySize)
            }
        }

        /// `BPF_MAP_UPDATE_BATCH` (with `values`) or `BPF_MAP_DELETE_BATCH` (without) of
        /// `count` entries, keys of `keySize` bytes and values of `valueSize` laid end to end
        /// in `keys` and `values`, in one system call (Linux 5.6), not through libbcc (whose
        /// `bpf_update_batch` came in 0.26). `count` is set to how many were done, also when
        /// it throws; an interrupted call goes on from there.
        package static func batch(
            map: borrowing BorrowedDescriptor, keys: UnsafeRawPointer, keySize: Int, values: UnsafeRawPointer?,
            valueSize: Int, count: inout UInt32
        ) throws(SystemCallFailure) {
            let call = values == nil ? "bpf(BPF_MAP_DELETE_BATCH)" : "bpf(BPF_MAP_UPDATE_BATCH)"
            let requested = count
            var done: UInt32 = 0
            defer { count = done }
            try SystemCall.check(call) { () -> Int32 in
                let asked = requested - done
                var left = asked
                let result = cka_bpf_map_batch(
                    map.rawValue, values == nil ? 1 : 0, keys + Int(done) * keySize,
                    values.map { $0 + Int(done) * valueSize }, &left, 0)
                // A failure before the kernel's loop (an unknown command before 5.6, a map
                // type without batches) leaves the count as asked: nothing was done.
                if result == 0 || left < asked { done += left }
                return result
            }
        }

        /// One `BPF_MAP_LOOKUP_BATCH` call (or `BPF_MAP_LOOKUP_AND_DELETE_BATCH` when
        /// `deleting`): up to `count` entries into `keys` and `values`; `count` is set to how
        /// many came (also when it throws ENOENT at the end). Throws ENOSYS where libbcc has
        /// no batch calls.
        package static func lookupBatch(
            map: borrowing BorrowedDescriptor, deleting: Bool, inBatch: UnsafeMutablePointer<UInt32>?,
            outBatch: UnsafeMutablePointer<UInt32>,
            keys: UnsafeMutableRawPointer, values: UnsafeMutableRawPointer, count: inout UInt32
        ) throws(SystemCallFailure) {
            let call = deleting ? "bpf_lookup_and_delete_batch" : "bpf_lookup_batch"
            // Before libbcc 0.24 there are none: ENOSYS, as from a kernel without them, makes
            // the caller read key by key.
            guard let batch = deleting ? LibBCC.runtime.bpf_lookup_and_delete_batch : LibBCC.runtime.bpf_lookup_batch
            else { throw SystemCallFailure(call: call, errno: ENOSYS) }
            try SystemCall.check(call) { batch(map.rawValue, inBatch, outBatch, keys, values, &count) }
        }
    }

    // MARK: Symbols

    /// A libbcc symbol cache, freed with this object: `pid` -1 for the kernel (kallsyms),
    /// else a process's mappings. Not thread-safe: its owner serializes use.
    package final class SymbolCache: @unchecked Sendable {
        // @unchecked Sendable: its owner (SymbolResolver) uses it only under a lock.
        private let raw: UnsafeMutableRawPointer
        private let pid: Int32
        private let bcc: cbcc_symbols

        /// nil when libbcc cannot make one (or has no symbol functions).
        package init?(pid: Int32) {
            guard let bcc = LibBCC.symbols else { return nil }
            let made: UnsafeMutableRawPointer?
            if pid < 0 {
                made = bcc.bcc_symcache_new!(-1, nil)
            } else {
                // No separate debug files: libbcc opens the file a binary's .gnu_debuglink
                // names, beside the binary, with a blocking open(2); a traced process can
                // plant a FIFO there and hang the tracer. Symbols come from the binary's
                // own .symtab and .dynsym.
                var options = bcc_symbol_option(
                    use_debug_file: 0, check_debug_file_crc: 0, lazy_symbolize: 1,
                    use_symbol_type: UInt32(BCC_SYM_ALL_TYPES))
                made = bcc.bcc_symcache_new!(pid, &options)
            }
            guard let made else { return nil }
            raw = made
            self.pid = pid
            self.bcc = bcc
        }

        deinit {
            bcc.bcc_free_symcache!(raw, pid)
        }

        /// The symbol holding `address`: its (demangled, when asked) name, module and offset.
        package func resolve(_ address: UInt64, demangle: Bool) -> ResolvedSymbol? {
            var symbol = bcc_symbol()
            let rc =
                demangle
                ? bcc.bcc_symcache_resolve!(raw, address, &symbol)
                : bcc.bcc_symcache_resolve_no_demangle!(raw, address, &symbol)
            defer { if demangle { bcc.bcc_symbol_free_demangle_name!(&symbol) } }
            guard rc == 0, let name = symbol.name else { return nil }
            let shown = demangle ? (symbol.demangle_name ?? name) : name
            return ResolvedSymbol(
                name: String(cString: shown), module: symbol.module.map { String(cString: $0) } ?? "",
                offset: symbol.offset)
        }

        /// The address of a symbol by name (`module` nil for the kernel's).
        package func address(of name: String, module: String?) -> UInt64? {
            var address: UInt64 = 0
            guard bcc.bcc_symcache_resolve_name!(raw, module, name, &address) == 0 else { return nil }
            return address
        }
    }
}

/// A symbol an address resolved to.
package struct ResolvedSymbol: Sendable {
    package var name: String
    /// The file it is in; empty for the kernel.
    package var module: String
    package var offset: UInt64
}
