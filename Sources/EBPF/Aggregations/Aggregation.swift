import Synchronization
import EBPFKernel
import EBPFProgram

/// An aggregation running in the kernel: a generated program that counts an event's
/// occurrences by key (with a field's sum, min and max, or a histogram of a field or of a
/// syscall's latency) in a kernel table, which this handle reads.
///
/// ```swift
/// let opens = try b.aggregate(.syscall("openat"), by: .processName)
/// try await Task.sleep(for: .seconds(1))
/// print(try opens.text(top: 10))
/// ```
///
/// Returned by ``EBPFWrapper/aggregate(_:_:by:filter:options:)``. ``detach()`` stops counting and
/// keeps the table readable; ``close()`` frees it, as the wrapper's `close()` does.
public final class Aggregation: Sendable, CustomStringConvertible {
    /// Where it was asked to attach (``eventName`` names where it did).
    public let point: AttachPoint
    /// The program that runs in the kernel.
    @_spi(Generator) public let program: AggregationProgram
    /// What the aggregated events are called: `syscalls:sys_enter_openat`.
    public var eventName: String { program.eventName }
    private let module: BPFModule
    /// One attachment, or for a latency the syscall's entry and exit.
    let attachments: [Attachment]
    /// The two tables of statistics; `generation` holds the index of the one programs fill.
    private let statistics: [MapAccess]
    private let generation: MapAccess
    private let dropped: MapAccess
    /// Where a stack key's stacks are read, when the key is one.
    private let stacks: StackReader?
    /// The index that `generation` holds; the lock also serializes ``take()``.
    private let filling = Lock<Int>(0)
    private let closed = Atomic<Bool>(false)
    /// The key of the one-element arrays (the generation switch, the dropped count).
    private static let onlyKey = MapAccess.bytes(of: UInt32(0), size: 4)

    /// Finds the tables in `module`, then attaches with `attach`: nothing the handle does
    /// after attaching makes a syscall of the traced kind on the caller's thread.
    init(
        point: AttachPoint, program: AggregationProgram, module: BPFModule, symbols: SymbolResolver,
        attach: () throws(EBPFError) -> [Attachment]
    ) throws(EBPFError) {
        self.point = point
        self.program = program
        self.module = module
        var tables: [MapAccess] = []
        for name in AggregationProgram.tableNames {
            tables.append(try MapAccess(info: module.table(name), module: module))
        }
        statistics = tables
        generation = try MapAccess(info: module.table(AggregationProgram.generationTableName), module: module)
        dropped = try MapAccess(info: module.table(AggregationProgram.droppedTableName), module: module)
        stacks =
            program.keyShape.recordsStacks
            ? try StackReader(module: module, symbols: symbols, maxDepth: StackCapture.maximumDepth) : nil
        attachments = try attach()
    }

    /// Whether the program still counts in the kernel.
    public var isAttached: Bool { attachments.contains(where: \.isAttached) }

    /// The statistics of every key since the start or the last ``take()``, the largest
    /// count first (ties by key). The kernel keeps counting meanwhile, so the count and the
    /// sum of one key may be an event apart.
    ///
    /// - Throws: ``EBPFError/Code/closed`` once closed.
    public func snapshot() throws(EBPFError) -> [Entry] {
        var all: [Entry] = []
        for table in statistics { all += entries(try table.items(), of: table) }
        return Self.sorted(Self.merging(all).filter { $0.count > 0 })
    }

    /// Every key's statistics since the last call (or the start), and the count starts
    /// again: an interval's worth. Exact: programs switch to the other table, the call
    /// waits until none still runs on the old one, then reads and empties it, so every
    /// event is in exactly one interval.
    public func take() throws(EBPFError) -> [Entry] {
        try filling.withLock { (filling) throws(EBPFError) -> [Entry] in
            let old = filling
            try generation.update(
                Self.onlyKey, MapAccess.bytes(of: UInt32(1 - old), size: 4))
            filling = 1 - old
            ProgramQuiescence.waitForRunningPrograms()
            let table = statistics[old]
            // Merged: distinct stack ids may name the same frames.
            return Self.sorted(Self.merging(entries(try table.takeAll(), of: table)).filter { $0.count > 0 })
        }
    }

    /// Forgets every key, and the count of events dropped.
    public func reset() throws(EBPFError) {
        _ = try take()
        _ = try take()
        try dropped.update(
            Self.onlyKey, [UInt8](repeating: 0, count: dropped.valueBufferSize))
    }

    /// Events not counted because the table held ``AggregationOptions/maxKeys`` keys
    /// already, since the start or the last ``reset()``.
    public func droppedCount() throws(EBPFError) -> UInt64 {
        guard let value = try dropped.lookup(Self.onlyKey) else { return 0 }
        return dropped.perCPUValues(value).reduce(0) { $0 &+ Self.word($1, at: 0) }
    }

    /// The stacks a stack key (``AggregationKey/userStack``, ``AggregationKey/kernelStack``)
    /// could not keep, counted in the kernel; all zero for other keys.
    ///
    /// - Throws: ``EBPFError/Code/closed`` after ``close()``.
    public func stackFailures() throws(EBPFError) -> StackFailures {
        try stacks?.failureCounts() ?? StackFailures()
    }

    /// Stops counting; the table stays readable until ``close()``. Idempotent.
    public func detach() {
        Attachment.detachTogether(attachments)
    }

    /// Stops counting and frees the program and its table. Idempotent.
    public func close() {
        detach()
        closed.store(true, ordering: .releasing)
        module.close()
    }

    /// Whether ``close()`` (or the wrapper's) has freed the table.
    public var isClosed: Bool { closed.load(ordering: .acquiring) }

    public var description: String {
        "Aggregation(\(program.eventName) by \(program.key?.description ?? "nothing")\(program.field.map { ", of \($0)" } ?? "")\(isAttached ? "" : ", detached"))"
    }

    /// The entries of `items` read from `table`, one per key: the per-CPU values added up,
    /// and for a histogram each key's slots gathered into one ``Histogram``.
    private func entries(_ items: [(key: [UInt8], value: [UInt8])], of table: MapAccess) -> [Entry] {
        guard let buckets = program.buckets else {
            return items.map { item in
                Entry(
                    statistics: table.perCPUValues(item.value), key: program.keyShape.decode(item.key, stacks: stacks),
                    hasField: program.field != nil)
            }
        }
        // The key is { u64 slot; the key proper }; the value { u64 count; s64 sum; } per CPU.
        var slots: [[UInt8]: (counts: [UInt64], sum: Int64)] = [:]
        for item in items where item.key.count >= 8 {
            let slot = Int(Self.word(item.key, at: 0))
            guard slot < buckets.slotCount else { continue }
            let key = Array(item.key[8...])
            var gathered = slots[key] ?? ([UInt64](repeating: 0, count: buckets.slotCount), 0)
            for value in table.perCPUValues(item.value) {
                gathered.counts[slot] &+= Self.word(value, at: 0)
                gathered.sum &+= Int64(bitPattern: Self.word(value, at: 8))
            }
            slots[key] = gathered
        }
        return slots.map { key, gathered in
            Entry(
                slots: gathered.counts, buckets: buckets, sum: gathered.sum,
                key: program.keyShape.decode(key, stacks: stacks))
        }
    }

    /// The entries of both tables, one per key.
    static func merging(_ entries: [Entry]) -> [Entry] {
        var byKey: [FieldValue?: Entry] = [:]
        for entry in entries {
            byKey[entry.key] = byKey[entry.key].map { $0.merged(with: entry) } ?? entry
        }
        return Array(byKey.values)
    }

    static func word(_ bytes: [UInt8], at offset: Int) -> UInt64 {
        guard bytes.count >= offset + 8 else { return 0 }
        return bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: UInt64.self) }
    }

    /// The largest count first, ties by the key's text (each key's text made once, not per
    /// comparison).
    static func sorted(_ entries: [Entry]) -> [Entry] {
        entries.map { (entry: $0, text: $0.key?.description ?? "") }
            .sorted { ($0.entry.count, $1.text) > ($1.entry.count, $0.text) }
            .map(\.entry)
    }
}
