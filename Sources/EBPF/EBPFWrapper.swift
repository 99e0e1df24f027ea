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
/// Probes are kernel-global state: they keep running after the last reference to their
/// handle is gone. ``close()`` detaches everything, stops the polling thread and frees the
/// program; call it when done. `deinit` does the same as a safety net, but a wrapper kept
/// alive by a forgotten reference keeps its probes attached.
///
/// All methods are thread-safe. Callbacks run on the wrapper's one polling thread, never on
/// the Swift concurrency pool.
public final class EBPFWrapper: Sendable {
    private struct State {
        var closed = false
        var attachments: [Attachment] = []
        var buffers: [EventBuffer] = []
        var probes: [Probe] = []
        var aggregations: [Aggregation] = []
    }

    /// The program compiled from the `text:` given at init; nil for `EBPFWrapper()`.
    let module: BPFModule?
    let poller: EventPoller
    let tracePipe = TracePipe()
    let symbols = SymbolResolver()
    /// What this wrapper's automatically sized perf rings may pin.
    let perfRingBudget = PerfRingBudget()
    private let state = Lock(State())
    /// Where the wrapper reports what it decided on the caller's behalf (such as a kprobe
    /// falling back to a tracepoint).
    public let logger: Logger

    /// How often the polling thread drains buffers whose wake-ups are batched: the longest a
    /// lone record waits before its callback runs.
    static let drainInterval = Duration.milliseconds(10)

    /// Where compiled programs are kept between runs; nil compiles every time.
    public let compileCache: CompileCache?

    /// How generated probes become programs.
    let probeBuilder: ProbeBuilder

    /// A wrapper with no program of its own, for the probes the library generates.
    ///
    /// - Parameters:
    ///   - cache: Where the probes' compiled programs are kept between runs, so that a second
    ///     start compiles nothing; nil compiles every time.
    ///   - logger: Where the wrapper reports what it decided on the caller's behalf.
    public convenience init(cache: CompileCache? = .standard, logger: Logger = Logger(label: "EBPF")) throws(EBPFError)
    {
        try self.init(cache: cache, probeBuilder: .standard, logger: logger)
    }

    /// The release of the libbcc this process loads (`"0.26.0"`), from its library file's
    /// name; nil when libbcc cannot be opened or its file names no release. Releases from
    /// 0.18 on are supported; an older one makes every initializer throw.
    public static var libbccVersion: String? { LibBCC.release?.description }

    /// A wrapper with no program of its own whose probes are built by `probeBuilder`, its
    /// batched buffers drained every `drainInterval`.
    init(
        cache: CompileCache?, probeBuilder: ProbeBuilder, logger: Logger = Logger(label: "EBPF"),
        drainInterval: Duration = drainInterval
    ) throws(EBPFError) {
        try LibBCC.requireRuntime()
        self.logger = logger
        compileCache = cache
        self.probeBuilder = probeBuilder
        module = nil
        poller = try EventPoller(drainInterval: drainInterval)
    }

    /// Compiles BPF C text with libbcc, as bcc's `BPF(text=…, cflags=[…])`.
    ///
    /// Functions are loaded into the kernel when first attached (or by ``loadFunction(_:type:)``).
    ///
    /// - Parameters:
    ///   - text: BPF C in bcc's dialect (`BPF_PERF_OUTPUT`, `TRACEPOINT_PROBE`, helpers).
    ///   - cflags: Extra compiler flags, each one string: `-D<macro>[=value]`, `-U<macro>`,
    ///     `-I<directory>`, `-W<warning>` or `-w`, e.g. `["-DMAX=16"]`. Others (`-include`,
    ///     `-fplugin=`, `-Xclang`) are refused: clang would read or load files as root.
    ///   - cache: Where the compiled program (and the wrapper's closure probes') is kept
    ///     between runs, so that a second start compiles nothing; off unless given, since a
    ///     program of your own may read files the cache key does not know of (its `#include`s).
    ///   - logger: Where the wrapper reports what it decided on the caller's behalf.
    /// - Throws: ``EBPFError/Code/invalidArgument`` for a refused flag,
    ///   ``EBPFError/Code/compilationFailed`` with clang's diagnostics,
    ///   ``EBPFError/Code/kernelHeadersMissing``, ``EBPFError/Code/permissionDenied``.
    ///
    /// The corresponding libbcc function is `bpf_module_create_c_from_string`.
    public init(
        text: String, cflags: [String] = [], cache: CompileCache? = nil, logger: Logger = Logger(label: "EBPF")
    ) throws(EBPFError) {
        try LibBCC.requireRuntime()
        self.logger = logger
        compileCache = cache
        probeBuilder = .standard
        module = try BPFModule(text: text, cflags: cflags, cache: cache)
        poller = try EventPoller(drainInterval: Self.drainInterval)
    }

    deinit {
        close()
    }

    /// The names of the functions in the compiled program (none without a program).
    ///
    /// - Throws: ``EBPFError/Code/closed`` once ``close()`` was called.
    public var functionNames: [String] {
        get throws(EBPFError) {
            try checkOpen()
            return try module?.functionNames ?? []
        }
    }

    /// The names of the tables (maps) in the compiled program (none without a program).
    ///
    /// - Throws: ``EBPFError/Code/closed`` once ``close()`` was called.
    public var tableNames: [String] {
        get throws(EBPFError) {
            try checkOpen()
            return try module?.tableNames ?? []
        }
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
        try checkOpen()
        let descriptor = try nativeModule().withFunction(fnName, type: type) {
            (fd) throws(EBPFError) -> FileDescriptor in
            do throws(SystemCallFailure) {
                return try FileDescriptor.duplicate(fd)
            } catch {
                throw error.error(.systemCallFailed, "could not keep a descriptor of the loaded function '\(fnName)'")
            }
        }
        return LoadedFunction(name: fnName, type: type, descriptor: descriptor)
    }

    /// Every attachment made through this wrapper that is still attached.
    public var attachments: [Attachment] {
        state.withLock { $0.attachments.filter(\.isAttached) }
    }

    /// The closure probes attached through this wrapper that are still attached.
    public var probes: [Probe] {
        state.withLock { $0.probes.filter(\.isAttached) }
    }

    /// Detaches every probe attached through this wrapper: native attachments (their
    /// buffers stay open), closure probes (with their buffers) and aggregations (their
    /// tables stay readable).
    public func detachAll() {
        let (attachments, probes, aggregations) = state.withLock { state in
            defer {
                state.attachments.removeAll()
                state.probes.removeAll()
            }
            return (state.attachments, state.probes, state.aggregations)
        }
        attachments.forEach { $0.detach() }
        probes.forEach { $0.detach() }
        aggregations.forEach { $0.detach() }
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
        let alreadyClosed = state.withLock { state in
            defer { state.closed = true }
            return state.closed
        }
        guard !alreadyClosed else { return }
        detachAll()
        poller.stop()
        tracePipe.close()
        symbols.close()
        // The poller released their rings; this marks the handles closed.
        let buffers = state.withLock { state in
            defer { state.buffers.removeAll() }
            return state.buffers
        }
        buffers.forEach { $0.close() }
        let aggregations = state.withLock { state in
            defer { state.aggregations.removeAll() }
            return state.aggregations
        }
        aggregations.forEach { $0.close() }
        module?.close()
    }

    /// Whether ``close()`` was called.
    public var isClosed: Bool { state.withLock { $0.closed } }

    // MARK: For the attach and buffer extensions

    func checkOpen() throws(EBPFError) {
        if state.withLock({ $0.closed }) {
            throw EBPFError(.closed, "this EBPFWrapper is closed; create a new one")
        }
    }

    func nativeModule() throws(EBPFError) -> BPFModule {
        guard let module else {
            throw EBPFError(
                .functionNotFound,
                "this wrapper has no BPF program; create it with EBPFWrapper(text:) to attach functions by fnName"
            )
        }
        return module
    }

    /// Records an attachment so close() can detach it; detaches it at once if the wrapper
    /// was closed meanwhile.
    func track(_ attachment: Attachment) throws(EBPFError) -> Attachment {
        try track(attachment, in: \.attachments, isLive: \.isAttached, while: "attaching") { $0.detach() }
    }

    func track(_ probe: Probe) throws(EBPFError) -> Probe {
        try track(probe, in: \.probes, isLive: \.isAttached, while: "attaching") { $0.detach() }
    }

    /// Kept until the wrapper closes (detached ones too: their tables stay readable).
    func track(_ aggregation: Aggregation) throws(EBPFError) -> Aggregation {
        try track(aggregation, in: \.aggregations, isLive: { !$0.isClosed }, while: "attaching", undo: { $0.close() })
    }

    func track(_ buffer: EventBuffer) throws(EBPFError) -> EventBuffer {
        try track(buffer, in: \.buffers, isLive: \.isOpen, while: "opening a buffer") { $0.close() }
    }

    /// Adds `item` to its list (dropping entries no longer live) unless the wrapper is
    /// closed, in which case `undo` releases it and the call throws.
    private func track<Item>(
        _ item: Item, in list: WritableKeyPath<State, [Item]>, isLive: (Item) -> Bool, while action: String,
        undo: (Item) -> Void
    ) throws(EBPFError) -> Item {
        let accepted = state.withLock { state -> Bool in
            guard !state.closed else { return false }
            state[keyPath: list].removeAll { !isLive($0) }
            state[keyPath: list].append(item)
            return true
        }
        guard accepted else {
            undo(item)
            throw EBPFError(.closed, "this EBPFWrapper was closed while \(action); create a new one")
        }
        return item
    }

    /// Throws if `table` already has an open buffer: a second perf reader would take over
    /// the table's per-CPU slots and silently starve the first.
    func checkNotOpen(table: String) throws(EBPFError) {
        let open = state.withLock { state in
            state.buffers.removeAll { !$0.isOpen }
            return state.buffers.contains { $0.table == table }
        }
        if open {
            throw EBPFError(
                .invalidArgument,
                "table '\(table)' already has an open buffer; close that EventBuffer first, or handle every record in its one callback"
            )
        }
    }
}
