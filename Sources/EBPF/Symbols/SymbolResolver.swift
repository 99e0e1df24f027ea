import EBPFKernel
import Synchronization

/// Addresses to symbol names and back, as bcc's `ksym()`, `ksymname()` and `sym()`: a
/// wrapper's ``EBPFWrapper/symbols``. It keeps libbcc's symbol caches: the kernel's
/// (kallsyms) and at most 64 processes', the least recently used dropped first; the
/// wrapper's `close()` frees them all, after which lookups find nothing (`[unknown]`, nil).
///
/// A process's cache is bound to the process, not its pid: once the
/// process has exited, its cache is dropped, so a pid the kernel reuses gets the new
/// process's mappings. Each cache is built and used under a lock of its own (libbcc's caches
/// are not thread-safe): one slow process does not hold up another's lookups.
public final class SymbolResolver: Sendable {
    /// How many process caches are kept; each holds a process's mappings and symbol tables.
    let processCacheLimit: Int

    private let closed = Atomic<Bool>(false)

    init(processCacheLimit: Int = 64) {
        self.processCacheLimit = processCacheLimit
    }

    /// The pids whose caches are kept, least recently used first.
    var cachedProcesses: [Int32] { caches.withLock { $0.order } }

    private struct Caches {
        var processes: [Int32: Entry] = [:]
        /// Least recently used first.
        var order: [Int32] = []

        /// The entry for `pid` marked most recently used; nil, and removed, when its process
        /// has exited (the pid may already belong to another).
        mutating func touch(_ pid: Int32, _ entry: Entry) -> Entry? {
            order.removeAll { $0 == pid }
            guard entry.process?.isCurrent ?? true else {
                processes[pid] = nil
                return nil
            }
            order.append(pid)
            return entry
        }
    }

    private let kernel = Entry(process: nil)
    private let caches = Lock(Caches())

    /// Runs `body` with the cache for `pid` (-1: the kernel); nil when libbcc cannot make
    /// one or no process has `pid`.
    func withCache<T: Sendable>(pid: Int32, _ body: (LibBCC.SymbolCache) -> T?) -> T? {
        // Once the wrapper is closed nothing is read or cached again.
        if closed.load(ordering: .acquiring) { return nil }
        if pid < 0 { return kernel.use(body) }
        return entry(for: pid)?.use(body)
    }

    private func entry(for pid: Int32) -> Entry? {
        let current = caches.withLock { caches -> Entry? in
            guard let existing = caches.processes[pid] else { return nil }
            return caches.touch(pid, existing)
        }
        if let current { return current }
        // Made outside the lock: the handle reads /proc.
        guard let process = ProcessHandle(pid: pid) else { return nil }
        let made = Entry(process: process)
        return caches.withLock { caches in
            if let raced = caches.processes[pid], let current = caches.touch(pid, raced) { return current }
            while caches.order.count >= processCacheLimit {
                caches.processes[caches.order.removeFirst()] = nil
            }
            caches.processes[pid] = made
            caches.order.append(pid)
            return made
        }
    }

    /// Frees every cache (each as its last user finishes).
    func close() {
        closed.store(true, ordering: .releasing)
        kernel.drop()
        let all = caches.withLock { caches in
            defer { caches = Caches() }
            return caches.processes
        }
        all.values.forEach { $0.drop() }
    }

    /// One process's (or the kernel's) cache, made on first use under its own lock.
    private final class Entry: Sendable {
        /// nil for the kernel.
        let process: ProcessHandle?
        private let cache = Lock<LibBCC.SymbolCache?>(nil)

        init(process: ProcessHandle?) {
            self.process = process
        }

        func use<T>(_ body: (LibBCC.SymbolCache) -> T?) -> T? {
            cache.withLock { cache in
                if cache == nil { cache = LibBCC.SymbolCache(pid: process?.pid ?? -1) }
                return cache.map(body) ?? nil
            }
        }

        func drop() {
            let taken = cache.withLock { $0.take() }
            _ = taken  // Freed here, outside the lock.
        }
    }
}

extension SymbolResolver {
    /// The kernel symbol holding `address`, as bcc's `ksym()`: `do_syscall_64`, with
    /// `showOffset` `do_syscall_64+0x5d`, with `showModule` `do_syscall_64 [kernel]`;
    /// `[unknown]` when no symbol holds it. Reads /proc/kallsyms once per wrapper.
    public func ksym(_ address: UInt64, showModule: Bool = false, showOffset: Bool = false) -> String {
        guard let symbol = withCache(pid: -1, { $0.resolve(address, demangle: false) }) else {
            return "[unknown]"
        }
        return Self.format(symbol, showModule: showModule, showOffset: showOffset)
    }

    /// The address of a kernel symbol, as bcc's `ksymname()`; nil when there is none.
    public func ksymname(_ name: String) -> UInt64? {
        guard (try? NameValidation.symbol(name, what: "kernel symbol")) != nil else { return nil }
        return withCache(pid: -1) { $0.address(of: name, module: nil) }
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
        guard let (symbol, _) = userSymbol(address, pid: pid, demangle: demangle) else { return "[unknown]" }
        return Self.format(symbol, showModule: showModule, showOffset: showOffset)
    }

    /// The symbol holding `address` in process `pid`, C++ and Swift names demangled (Swift's
    /// fully, by the runtime) when `demangle`, and whether it is a Swift symbol so demangled.
    func userSymbol(_ address: UInt64, pid: Int32, demangle: Bool) -> (symbol: ResolvedSymbol, isSwift: Bool)? {
        guard pid > 0, var symbol = withCache(pid: pid, { $0.resolve(address, demangle: demangle) }) else {
            return nil
        }
        guard demangle, let swiftName = SwiftDemangler.demangle(symbol.name) else { return (symbol, false) }
        symbol.name = swiftName
        return (symbol, true)
    }

    private static func format(_ symbol: ResolvedSymbol, showModule: Bool, showOffset: Bool) -> String {
        var text = symbol.name
        if showOffset { text += "+0x" + String(symbol.offset, radix: 16) }
        if showModule { text += " [\(symbol.module.isEmpty ? "kernel" : symbol.module)]" }
        return text
    }
}
