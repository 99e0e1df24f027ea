/// A USDT (user statically-defined tracing) probe compiled into a binary: a `DTRACE_PROBE`
/// or `STAP_PROBE` of `<sys/sdt.h>`, found in the binary's `.note.stapsdt` notes.
public struct USDTProbe: Sendable, Hashable, CustomStringConvertible {
    /// The provider, the first half of the probe's name (`libc`, `python`, `postgresql`).
    public let provider: String
    /// The probe's name within its provider (`setjmp`, `function__entry`).
    public let name: String
    /// The file the probe is in, an executable or a shared library, as its process names it.
    public let binaryPath: String
    /// The same file as this process reaches it: through `/proc/<pid>/root` for a probe
    /// listed from a process (which may run in another mount namespace).
    package let reachablePath: String
    /// Where in the file the probe's semaphore is (0: the probe has none). A probe with a
    /// semaphore fires only while the semaphore is non-zero; the kernel raises it in every
    /// process the probe is attached in, and lowers it when the probe is detached.
    public let semaphoreOffset: UInt64
    /// The virtual addresses (in the file's own layout) of the probe's sites: one per place
    /// the compiler put it, more than one when it was inlined or unrolled.
    public let addresses: [UInt64]
    /// The arguments at each site (the same count at each, their locations may differ).
    package let argumentsBySite: [[USDTArgument]]

    /// The probe's arguments as its first site passes them, numbered from 1 as in
    /// `bpf_usdt_readarg(1, ctx, &value)`.
    public var arguments: [USDTArgument] { argumentsBySite.first ?? [] }

    /// Whether the probe fires only while its semaphore is raised.
    public var hasSemaphore: Bool { semaphoreOffset != 0 }

    /// `provider:name`, as bcc's `tplist` and bpftrace's `usdt:path:provider:name` write it.
    public var description: String { "\(provider):\(name)" }

    package init(
        provider: String, name: String, binaryPath: String, reachablePath: String, semaphoreOffset: UInt64,
        addresses: [UInt64], argumentsBySite: [[USDTArgument]]
    ) {
        self.provider = provider
        self.name = name
        self.binaryPath = binaryPath
        self.reachablePath = reachablePath
        self.semaphoreOffset = semaphoreOffset
        self.addresses = addresses
        self.argumentsBySite = argumentsBySite
    }
}

/// One argument of a USDT probe: how wide it is and where the probe site keeps it.
public struct USDTArgument: Sendable, Hashable, CustomStringConvertible {
    /// Where the value is when the probe fires.
    public enum Location: Sendable, Hashable {
        /// A constant compiled into the site.
        case constant(Int64)
        /// A register (`di`, `r8`), as `struct pt_regs` names it.
        case register(String)
        /// Memory at `base + offset (+ index × scale)`, registers as `struct pt_regs` names them.
        case memory(base: String, offset: Int, index: String?, scale: Int)
        /// A global variable of the binary, `symbol + offset` (addressed relative to `ip`).
        case global(symbol: String, offset: Int)
    }

    /// Bytes: 1, 2, 4 or 8.
    public let size: Int
    /// Whether the value is signed (`-4@%edi` is a signed 4-byte value).
    public let isSigned: Bool
    public let location: Location

    package init(size: Int, isSigned: Bool, location: Location) {
        self.size = size
        self.isSigned = isSigned
        self.location = location
    }

    /// The C type of the value: `s32`, `u64`.
    package var cType: String { (isSigned ? "s" : "u") + String(size * 8) }

    /// The location in the notation of `<sys/sdt.h>`'s notes, with the size: `-4@%di`.
    public var description: String {
        let width = (isSigned ? "-" : "") + String(size) + "@"
        switch location {
        case .constant(let value): return width + "$\(value)"
        case .register(let register): return width + "%" + register
        case .memory(let base, let offset, let index, let scale):
            let indexed = index.map { ",%\($0),\(scale)" } ?? ""
            return width + "\(offset)(%\(base)\(indexed))"
        case .global(let symbol, let offset): return width + "\(symbol)+\(offset)(%ip)"
        }
    }
}
