import Logging
import EBPFKernel
import EBPFProgram

/// A BPF program compiled by libbcc, the probes attached from it, and the buffers that
/// deliver its records: the Swift counterpart of bcc's Python `BPF` class.
///
/// ```swift
/// let b = try EBPFWrapper(text: """
///     int hello(void *ctx) { bpf_trace_printk("Hello, World!\\n"); return 0; }
///     """)
/// try b.attachTracepoint(tp: "syscalls:sys_enter_clone", fnName: "hello")
/// print(try b.traceFields())
/// b.close()
/// ```
///
/// What a wrapper offers follows from how it was made, at compile time: `EBPFWrapper()`
/// is an `EBPFWrapper<NoProgram>`, for the probes and aggregations the library generates;
/// `EBPFWrapper(text:)` is an `EBPFWrapper<CProgram>`, which adds the calls that name the
/// program's functions and tables.
///
/// **Lifetime**: everything made through a wrapper (attachments, probes, aggregations,
/// buffers, loaded functions, table views) is a handle that ends when asked (`detach()`,
/// `close()`) and ends with the wrapper: ``close()`` ends them all, after which their state
/// says so (`isAttached`, `isOpen`, `isClosed`), their calls throw
/// ``EBPFError/Code/closed`` and ``symbols`` finds nothing. Dropping a handle ends nothing,
/// since probes are kernel-global state, except an async sequence (``events(_:filter:options:bufferingLimit:)``,
/// ``Table/records(options:bufferingLimit:)``), which ends with its loop as `AsyncStream`
/// does. Dropping the wrapper closes it, unless something else keeps it (a closure that
/// captures it). Call `close()` when done.
///
/// All methods are thread-safe. Callbacks run on the wrapper's one polling thread, never on
/// the Swift concurrency pool.
public final class EBPFWrapper<Program: WrapperProgram>: Sendable {
    let session: Session

    init(session: Session) {
        self.session = session
    }

    deinit {
        session.close()
    }

    /// Detaches every probe, stops the polling thread after delivering what the buffers
    /// still hold, and frees the program, its maps and every file descriptor the wrapper
    /// opened, at once, even while ``Table`` views or ``EventBuffer`` handles are still
    /// referenced. Idempotent; safe to call from a callback (it then returns at once and the
    /// polling thread finishes the clean-up when the callback ends).
    ///
    /// After `close()`, attach and open calls and table operations throw
    /// ``EBPFError/Code/closed``.
    public func close() {
        session.close()
    }

    /// Detaches every attachment, closure probe and aggregation made through this wrapper,
    /// together: stopping N probes costs about one kernel wait, not N (closing a
    /// tracepoint's perf event waits out a grace period). Aggregations stay readable, the
    /// wrapper stays open, and once this returns no closure probe's closure is called again
    /// (unless it runs inside one, which then finishes). Buffers opened on the program's
    /// own tables (``Table/openPerfBuffer(options:lost:handler:)``) still deliver what they
    /// hold, until closed.
    public func detachAll() {
        session.detachAll()
    }

    /// Whether ``close()`` was called.
    public var isClosed: Bool { session.isClosed }
}

/// What an ``EBPFWrapper`` was made with, which decides the calls it offers:
/// ``NoProgram`` or ``CProgram``.
public protocol WrapperProgram: Sendable {}

/// A wrapper with no program of its own (`EBPFWrapper()`): the library generates one
/// for each probe and aggregation.
public enum NoProgram: WrapperProgram {}

/// A wrapper made from BPF C text (`EBPFWrapper(text:)`): its functions attach by name
/// and its tables and buffers are read by name.
public enum CProgram: WrapperProgram {}

extension EBPFWrapper where Program == NoProgram {
    /// A wrapper with no program of its own, for the probes the library generates.
    ///
    /// - Parameters:
    ///   - cache: Where the probes' compiled programs are kept between runs, so that a second
    ///     start compiles nothing; nil compiles every time.
    ///   - logger: Where the wrapper reports what it decided on the caller's behalf (such
    ///     as a kprobe falling back to a tracepoint).
    /// - Throws: ``EBPFError/Code/notSupported`` when libbcc cannot be opened or is older
    ///   than 0.18 (the message says what to install),
    ///   ``EBPFError/Code/systemCallFailed`` when the polling thread cannot start.
    public convenience init(cache: CompileCache? = .standard, logger: Logger = Logger(label: "EBPF"))
        throws(EBPFError)
    {
        self.init(session: try Session(cache: cache, probeBuilder: .standard, logger: logger))
    }

    /// A wrapper whose probes are built by `probeBuilder`, its batched buffers drained every
    /// `drainInterval` (for tests).
    convenience init(
        cache: CompileCache?, probeBuilder: ProbeBuilder, logger: Logger = Logger(label: "EBPF"),
        drainInterval: Duration = Session.drainInterval
    ) throws(EBPFError) {
        self.init(
            session: try Session(
                cache: cache, probeBuilder: probeBuilder, logger: logger, drainInterval: drainInterval))
    }
}

extension EBPFWrapper where Program == CProgram {
    /// Compiles BPF C text with libbcc, as bcc's `BPF(text=…, cflags=[…], usdt_contexts=[…])`.
    ///
    /// Functions are loaded into the kernel when first attached (or by
    /// ``loadFunction(_:type:)``). Functions named in `usdt` are attached at once, each
    /// reading its probe's arguments with `bpf_usdt_readarg(n, ctx, &value)`:
    ///
    /// ```swift
    /// let b = try EBPFWrapper(text: """
    ///     #include <uapi/linux/ptrace.h>
    ///     int on_query(struct pt_regs *ctx) {
    ///         u64 length = 0;
    ///         bpf_usdt_readarg(2, ctx, &length);
    ///         bpf_trace_printk("query of %llu bytes\\n", length);
    ///         return 0;
    ///     }
    ///     """, usdt: ["on_query": .usdt("postgresql:query__start", in: "/usr/lib/postgresql/15/bin/postgres")])
    /// ```
    ///
    /// - Parameters:
    ///   - text: BPF C in bcc's dialect (`BPF_PERF_OUTPUT`, `TRACEPOINT_PROBE`, helpers).
    ///   - cflags: Extra compiler flags, each one string: `-D<macro>[=value]`, `-U<macro>`,
    ///     `-I<directory>`, `-W<warning>` or `-w`, e.g. `["-DMAX=16"]`. Others (`-include`,
    ///     `-fplugin=`, `-Xclang`) are refused: clang would read or load files as root.
    ///   - usdt: Functions of `text` to attach at USDT probes, by name: kprobe-type
    ///     functions taking `struct pt_regs *ctx`. A point with a `pid` fires only in that
    ///     process, through the kernel's reference counter for the probe's semaphore.
    ///   - cache: Where the compiled program (and the wrapper's closure probes') is kept
    ///     between runs, so that a second start compiles nothing; off unless given, since a
    ///     program of your own may read files the cache key does not know of (its `#include`s).
    ///   - logger: Where the wrapper reports what it decided on the caller's behalf.
    /// - Throws: ``EBPFError/Code/invalidArgument`` for a refused flag,
    ///   ``EBPFError/Code/compilationFailed`` with clang's diagnostics,
    ///   ``EBPFError/Code/kernelHeadersMissing``, ``EBPFError/Code/permissionDenied``;
    ///   for `usdt`, ``EBPFError/Code/invalidArgument`` for a point that is not a USDT
    ///   probe, ``EBPFError/Code/notFound`` for a missing binary, process or probe (with
    ///   the probes there are), ``EBPFError/Code/notSupported`` for an argument BPF cannot
    ///   read, and the errors of attaching.
    ///
    /// The corresponding libbcc function is `bpf_module_create_c_from_string`.
    public convenience init(
        text: String, cflags: [String] = [], usdt: [String: AttachPoint] = [:], cache: CompileCache? = nil,
        logger: Logger = Logger(label: "EBPF")
    ) throws(EBPFError) {
        self.init(
            session: usdt.isEmpty
                ? try Session(text: text, cflags: cflags, cache: cache, logger: logger)
                : try Session(text: text, cflags: cflags, usdt: usdt, cache: cache, logger: logger))
    }

    /// The names of the functions in the compiled program.
    ///
    /// - Throws: ``EBPFError/Code/closed`` once ``close()`` was called.
    public var functionNames: [String] {
        get throws(EBPFError) { try session.functionNames }
    }

    /// The names of the tables (maps) in the compiled program.
    ///
    /// - Throws: ``EBPFError/Code/closed`` once ``close()`` was called.
    public var tableNames: [String] {
        get throws(EBPFError) { try session.tableNames }
    }

    /// Loads a function of the program into the kernel as `type` (once per type: later calls
    /// and attaches use the same load) and returns a handle with a descriptor of its own
    /// (as bcc's `load_func`). Attach calls load for themselves; call it to see a verifier
    /// rejection early or to hand the program to the kernel elsewhere.
    ///
    /// - Throws: ``EBPFError/Code/functionNotFound``, ``EBPFError/Code/loadFailed`` with the
    ///   verifier log, ``EBPFError/Code/closed``.
    ///
    /// The corresponding libbcc function is `bcc_func_load`.
    @discardableResult
    public func loadFunction(_ fnName: String, type: ProgramType) throws(EBPFError) -> LoadedFunction {
        try session.loadFunction(fnName, type: type)
    }
}
