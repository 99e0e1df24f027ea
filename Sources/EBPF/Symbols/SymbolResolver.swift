/// libbcc's symbol caches: one for the kernel (kallsyms) and one per process, made on first
/// use and freed by `close()`. libbcc's caches are not thread-safe; each is used under the lock.
final class SymbolResolver: Sendable {
    private let caches = Lock<[Int32: LibBCC.SymbolCache]>([:])

    /// Runs `body` with the cache for `pid` (-1: the kernel); nil when libbcc cannot make one.
    func withCache<T: Sendable>(pid: Int32, _ body: (LibBCC.SymbolCache) -> T?) -> T? {
        caches.withLock { caches -> T? in
            if let existing = caches[pid] { return body(existing) }
            guard let made = LibBCC.SymbolCache(pid: pid) else { return nil }
            caches[pid] = made
            return body(made)
        }
    }

    /// Frees every cache.
    func close() {
        let all = caches.withLock { caches in
            defer { caches.removeAll() }
            return caches
        }
        _ = all  // The caches free themselves as the last reference goes, outside the lock.
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
    /// process's mappings are read on first use, so resolve while it runs.
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
