/// libbcc's symbol caches: the kernel's (kallsyms) and at most ``processCacheLimit``
/// processes', the least recently used dropped first; all freed by `close()`.
///
/// A process's cache is keyed by its pid and start time, so a pid the kernel reuses for a
/// new process gets a new cache, not the dead process's mappings. Each cache is built and
/// used under a lock of its own (libbcc's caches are not thread-safe): one slow process
/// does not hold up another's lookups.
final class SymbolResolver: Sendable {
    /// How many process caches are kept; each holds a process's mappings and symbol tables.
    static let processCacheLimit = 64

    private struct Key: Hashable {
        var pid: Int32
        var startTime: UInt64
    }

    private struct Caches {
        var processes: [Key: Entry] = [:]
        /// Least recently used first.
        var order: [Key] = []
    }

    private let kernel = Entry(pid: -1)
    private let caches = Lock(Caches())

    /// Runs `body` with the cache for `pid` (-1: the kernel); nil when libbcc cannot make
    /// one or the process is gone.
    func withCache<T: Sendable>(pid: Int32, _ body: (LibBCC.SymbolCache) -> T?) -> T? {
        if pid < 0 { return kernel.use(body) }
        guard let startTime = Self.startTime(of: pid) else { return nil }
        let entry = entry(for: Key(pid: pid, startTime: startTime))
        let result = entry.use(body)
        // The pid may have been reused between reading its start time and its mappings.
        return Self.startTime(of: pid) == startTime ? result : nil
    }

    private func entry(for key: Key) -> Entry {
        caches.withLock { caches in
            if let existing = caches.processes[key] {
                caches.order.removeAll { $0 == key }
                caches.order.append(key)
                return existing
            }
            // A cache under the same pid with another start time belongs to a dead process.
            for stale in caches.order where stale.pid == key.pid { caches.processes[stale] = nil }
            caches.order.removeAll { $0.pid == key.pid }
            while caches.order.count >= Self.processCacheLimit {
                caches.processes[caches.order.removeFirst()] = nil
            }
            let made = Entry(pid: key.pid)
            caches.processes[key] = made
            caches.order.append(key)
            return made
        }
    }

    /// The process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat);
    /// nil when it has exited.
    private static func startTime(of pid: Int32) -> UInt64? {
        guard let stat = try? SystemFiles.readText("/proc/\(pid)/stat"), let end = stat.lastIndex(of: ")") else {
            return nil
        }
        // After the command name in parentheses: field 3 (state) onwards.
        let fields = stat[stat.index(after: end)...].split(separator: " ")
        return fields.count > 19 ? UInt64(fields[19]) : nil
    }

    /// Frees every cache (each as its last user finishes).
    func close() {
        kernel.drop()
        let all = caches.withLock { caches in
            defer { caches = Caches() }
            return caches.processes
        }
        all.values.forEach { $0.drop() }
    }

    /// One process's (or the kernel's) cache, made on first use under its own lock.
    private final class Entry: Sendable {
        private let pid: Int32
        private let cache = Lock<LibBCC.SymbolCache?>(nil)

        init(pid: Int32) {
            self.pid = pid
        }

        func use<T>(_ body: (LibBCC.SymbolCache) -> T?) -> T? {
            cache.withLock { cache in
                if cache == nil { cache = LibBCC.SymbolCache(pid: pid) }
                return cache.map(body) ?? nil
            }
        }

        func drop() {
            let taken = cache.withLock { $0.take() }
            _ = taken  // Freed here, outside the lock.
        }
    }
}

extension EBPFWrapper {
    /// The kernel symbol holding `address`, as bcc's `ksym()`: `do_syscall_64`, with
    /// `showOffset` `do_syscall_64+0x5d`, with `showModule` `do_syscall_64 [kernel]`;
    /// `[unknown]` when no symbol holds it. Reads /proc/kallsyms once per wrapper.
    public func ksym(_ address: UInt64, showModule: Bool = false, showOffset: Bool = false) -> String {
        guard let symbol = symbols.withCache(pid: -1, { $0.resolve(address, demangle: false) }) else {
            return "[unknown]"
        }
        return Self.format(symbol, showModule: showModule, showOffset: showOffset)
    }

    /// The address of a kernel symbol, as bcc's `ksymname()`; nil when there is none.
    public func ksymname(_ name: String) -> UInt64? {
        guard (try? NameValidation.symbol(name, what: "kernel symbol")) != nil else { return nil }
        return symbols.withCache(pid: -1) { $0.address(of: name, module: nil) }
    }

    /// The symbol holding `address` in process `pid`, as bcc's `sym()`: `main`, with
    /// `showOffset` `main+0x12`, with `showModule` `main [/usr/bin/bash]`; C++ and Swift
    /// names demangled unless `demangle` is false; `[unknown]` when none holds it. The
    /// process's mappings are read on first use, so resolve while it runs. Symbols come from
    /// the binary's own `.symtab` and `.dynsym`: separate debug files are not read, since a
    /// traced process could plant a FIFO where its `.gnu_debuglink` points and hang the
    /// caller.
    public func sym(
        _ address: UInt64, pid: Int32, showModule: Bool = false, showOffset: Bool = false, demangle: Bool = true
    ) -> String {
        guard pid > 0, var symbol = symbols.withCache(pid: pid, { $0.resolve(address, demangle: demangle) }) else {
            return "[unknown]"
        }
        if demangle, let swiftName = SwiftDemangler.demangle(symbol.name) {
            symbol.name = swiftName
        }
        return Self.format(symbol, showModule: showModule, showOffset: showOffset)
    }

    private static func format(_ symbol: ResolvedSymbol, showModule: Bool, showOffset: Bool) -> String {
        var text = symbol.name
        if showOffset { text += "+0x" + String(symbol.offset, radix: 16) }
        if showModule { text += " [\(symbol.module.isEmpty ? "kernel" : symbol.module)]" }
        return text
    }
}
