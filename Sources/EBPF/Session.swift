import Logging
import EBPFKernel
import EBPFProgram

/// What an ``EBPFWrapper`` owns: the program compiled from its C text (if any), the
/// polling thread, the trace pipe, the symbol caches, and every attachment, probe,
/// aggregation and buffer made through it, so that `close()` can end them all. The
/// wrapper is a typed front over it; tables and buffers keep it to report `.closed`.
final class Session: Sendable {
    private struct State {
        var closed = false
        var attachments: [Attachment] = []
        var buffers: [EventBuffer] = []
        var probes: [Probe] = []
        var aggregations: [Aggregation] = []
        var loadedFunctions: [LoadedFunction] = []
        var packetSockets: [PacketSocket] = []
        var iterators: [KernelIterator] = []
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
    let logger: Logger

    /// How often the polling thread drains buffers whose wake-ups are batched: the longest a
    /// lone record waits before its callback runs.
    static let drainInterval = Duration.milliseconds(10)

    /// Where compiled programs are kept between runs; nil compiles every time.
    let compileCache: CompileCache?

    /// How generated probes become programs.
    let probeBuilder: ProbeBuilder

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

    /// Compiles `text` (see ``EBPFWrapper/init(text:cflags:usdt:cache:logger:)``).
    init(
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

    /// Throws `.closed` once closed; empty without a program.
    var functionNames: [String] {
        get throws(EBPFError) {
            try checkOpen()
            return try module?.functionNames ?? []
        }
    }

    /// Throws `.closed` once closed; empty without a program.
    var tableNames: [String] {
        get throws(EBPFError) {
            try checkOpen()
            return try module?.tableNames ?? []
        }
    }

    /// See ``EBPFWrapper/loadFunction(_:type:)``.
    @discardableResult
    func loadFunction(_ fnName: String, type: ProgramType) throws(EBPFError) -> LoadedFunction {
        try checkOpen()
        let descriptor = try nativeModule().withFunction(fnName, type: type) {
            (program) throws(EBPFError) -> FileDescriptor in
            do throws(SystemCallFailure) {
                return try FileDescriptor.duplicate(program)
            } catch {
                throw error.error(.systemCallFailed, "could not keep a descriptor of the loaded function '\(fnName)'")
            }
        }
        return try track(LoadedFunction(name: fnName, type: type, descriptor: descriptor))
    }

    /// Every attachment made through this wrapper that is still attached.
    var attachments: [Attachment] {
        state.withLock { $0.attachments.filter(\.isAttached) }
    }

    /// The closure probes attached through this wrapper that are still attached.
    var probes: [Probe] {
        state.withLock { $0.probes.filter(\.isAttached) }
    }

    /// Detaches every attachment, probe and aggregation together, the wrapper staying open
    /// (see ``EBPFWrapper/detachAll()``).
    func detachAll() {
        let (attachments, probes, aggregations) = state.withLock { ($0.attachments, $0.probes, $0.aggregations) }
        // One round of waits for all three, then each probe's delivery stops.
        Attachment.detachTogether(attachments + probes.map(\.attachment) + aggregations.flatMap(\.attachments))
        probes.forEach { $0.detach() }
    }

    /// Ends everything below, at most once (see ``EBPFWrapper/close()``).
    func close() {
        let alreadyClosed = state.withLock { state in
            defer { state.closed = true }
            return state.closed
        }
        guard !alreadyClosed else { return }
        let (attachments, probes, aggregations) = state.withLock { state in
            defer {
                state.attachments.removeAll()
                state.probes.removeAll()
                state.aggregations.removeAll()
            }
            return (state.attachments, state.probes, state.aggregations)
        }
        // No program runs from here on; the probes keep their buffers until the poller has
        // delivered what every buffer still holds.
        Attachment.detachTogether(attachments + probes.map(\.attachment) + aggregations.flatMap(\.attachments))
        // A routed probe (``SyscallRouting``) leaves its program array without waiting for
        // the programs already running, as closing a perf tracepoint waits: their records
        // are in the rings once this returns, before the poller's last drain.
        if !probes.isEmpty { ProgramQuiescence.waitForRunningPrograms() }
        poller.stop()
        probes.forEach { $0.detach() }
        tracePipe.close()
        symbols.close()
        // The poller released their rings; this marks the handles closed.
        let buffers = state.withLock { state in
            defer { state.buffers.removeAll() }
            return state.buffers
        }
        buffers.forEach { $0.close() }
        aggregations.forEach { $0.close() }
        let loadedFunctions = state.withLock { state in
            defer { state.loadedFunctions.removeAll() }
            return state.loadedFunctions
        }
        loadedFunctions.forEach { $0.close() }
        let (packetSockets, iterators) = state.withLock { state in
            defer {
                state.packetSockets.removeAll()
                state.iterators.removeAll()
            }
            return (state.packetSockets, state.iterators)
        }
        packetSockets.forEach { $0.close() }
        iterators.forEach { $0.close() }
        module?.close()
    }

    /// Whether ``close()`` was called.
    var isClosed: Bool { state.withLock { $0.closed } }

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

    func track(_ function: LoadedFunction) throws(EBPFError) -> LoadedFunction {
        try track(function, in: \.loadedFunctions, isLive: \.isOpen, while: "loading a function") { $0.close() }
    }

    func track(_ socket: PacketSocket) throws(EBPFError) -> PacketSocket {
        try track(socket, in: \.packetSockets, isLive: \.isOpen, while: "attaching a socket filter") { $0.close() }
    }

    func track(_ iterator: KernelIterator) throws(EBPFError) -> KernelIterator {
        try track(iterator, in: \.iterators, isLive: \.isOpen, while: "opening an iterator") { $0.close() }
    }

    /// How many buffers are open (for tests).
    var openBufferCount: Int { state.withLock { $0.buffers.filter(\.isOpen).count } }

    func track(_ buffer: EventBuffer) throws(EBPFError) -> EventBuffer {
        try track(buffer, in: \.buffers, isLive: \.isOpen, while: "opening a buffer") { $0.close() }
    }

    /// Adds `item` to its list (dropping entries no longer live) unless the wrapper is
    /// closed, in which case `undo` releases it and the call throws.
    private func track<Item>(
        _ item: Item, in list: WritableKeyPath<State, [Item]>, isLive: (Item) -> Bool, while action: String,
        undo: (Item) -> Void
    ) throws(EBPFError) -> Item {
        let (accepted, ended) = state.withLock { state -> (Bool, [Item]) in
            guard !state.closed else { return (false, []) }
            let ended = state[keyPath: list].filter { !isLive($0) }
            state[keyPath: list].removeAll { !isLive($0) }
            state[keyPath: list].append(item)
            return (true, ended)
        }
        // Freed here, outside the lock: the last reference to an ended buffer may be what
        // holds a closure that holds the wrapper, whose deinit closes it.
        withExtendedLifetime(ended) {}
        guard accepted else {
            undo(item)
            throw EBPFError(.closed, "this EBPFWrapper was closed while \(action); create a new one")
        }
        return item
    }

    /// Throws if `table` already has an open buffer: a second perf reader would take over
    /// the table's per-CPU slots and silently starve the first.
    func checkNotOpen(table: String) throws(EBPFError) {
        let (open, closed) = state.withLock { state in
            let closed = state.buffers.filter { !$0.isOpen }
            state.buffers.removeAll { !$0.isOpen }
            return (state.buffers.contains { $0.table == table }, closed)
        }
        withExtendedLifetime(closed) {}  // Freed outside the lock, as in track(_:in:…).
        if open {
            throw EBPFError(
                .invalidArgument,
                "table '\(table)' already has an open buffer; close that EventBuffer first, or handle every record in its one callback"
            )
        }
    }
}
