import Synchronization

/// An aggregation running in the kernel: a generated program that counts an event's
/// occurrences (and sums a field) by key in a kernel table, which this handle reads.
///
/// ```swift
/// let opens = try b.count(.syscall("openat"), by: .processName)
/// try await Task.sleep(for: .seconds(1))
/// print(try opens.text(top: 10))
/// ```
///
/// Returned by ``EBPFWrapper/count(_:by:filter:options:)`` and
/// ``EBPFWrapper/aggregate(_:field:by:filter:options:)``. ``detach()`` stops counting and
/// keeps the table readable; ``close()`` frees it, as the wrapper's `close()` does.
public final class Aggregation: Sendable, CustomStringConvertible {
    /// One key's statistics.
    public struct Entry: Sendable, Hashable {
        /// The key's value (a name, an id, a field's value); nil for an aggregation without
        /// a key.
        public var key: FieldValue?
        /// Events counted.
        public var count: UInt64
        /// The aggregated field's sum, smallest and largest value (nil when only counting),
        /// as signed 64-bit integers.
        public var sum: Int64?
        public var min: Int64?
        public var max: Int64?

        public init(key: FieldValue?, count: UInt64, sum: Int64? = nil, min: Int64? = nil, max: Int64? = nil) {
            self.key = key
            self.count = count
            self.sum = sum
            self.min = min
            self.max = max
        }

        /// The field's mean; nil when only counting.
        public var average: Double? {
            guard let sum, count > 0 else { return nil }
            return Double(sum) / Double(count)
        }
    }

    /// What was asked for.
    public let target: ProbeTarget
    /// The program that runs in the kernel.
    public let program: AggregationProgram
    private let module: BPFModule
    private let attachment: Attachment
    /// The two tables of statistics; `generation` holds the index of the one programs fill.
    private let statistics: [MapAccess]
    private let generation: MapAccess
    private let dropped: MapAccess
    /// The index that `generation` holds; the lock also serializes ``take()``.
    private let filling = Lock<Int>(0)
    private let closed = Atomic<Bool>(false)

    /// Finds the tables in `module`, then attaches with `attach`: nothing the handle does
    /// after attaching makes a syscall of the traced kind on the caller's thread.
    init(
        target: ProbeTarget, program: AggregationProgram, module: BPFModule,
        attach: () throws(EBPFError) -> Attachment
    ) throws(EBPFError) {
        self.target = target
        self.program = program
        self.module = module
        var tables: [MapAccess] = []
        for name in AggregationProgram.tableNames {
            tables.append(try MapAccess(info: module.table(name), module: module))
        }
        statistics = tables
        generation = try MapAccess(info: module.table(AggregationProgram.generationTableName), module: module)
        dropped = try MapAccess(info: module.table(AggregationProgram.droppedTableName), module: module)
        attachment = try attach()
    }

    /// Whether the program still counts in the kernel.
    public var isAttached: Bool { attachment.isAttached }

    /// The statistics of every key since the start or the last ``take()``, the largest
    /// count first (ties by key). The kernel keeps counting meanwhile, so the count and the
    /// sum of one key may be an event apart.
    ///
    /// - Throws: ``EBPFError/Code/closed`` once closed.
    public func snapshot() throws(EBPFError) -> [Entry] {
        var byKey: [[UInt8]: Entry] = [:]
        for table in statistics {
            for item in try table.items() {
                let next = entry(item, of: table)
                byKey[item.key] = byKey[item.key].map { Self.merged($0, next) } ?? next
            }
        }
        return Self.sorted(byKey.values.filter { $0.count > 0 })
    }

    /// Every key's statistics since the last call (or the start), and the count starts
    /// again: an interval's worth. Exact: programs switch to the other table, the call
    /// waits until none still runs on the old one, then reads and empties it, so every
    /// event is in exactly one interval.
    public func take() throws(EBPFError) -> [Entry] {
        try filling.withLock { (filling) throws(EBPFError) -> [Entry] in
            let old = filling
            try generation.update(
                MapAccess.bytes(of: UInt32(0), size: 4), MapAccess.bytes(of: UInt32(1 - old), size: 4))
            filling = 1 - old
            ProgramQuiescence.waitForRunningPrograms()
            let table = statistics[old]
            return Self.sorted(try table.takeAll().map { entry($0, of: table) }.filter { $0.count > 0 })
        }
    }

    /// Forgets every key, and the count of events dropped.
    public func reset() throws(EBPFError) {
        _ = try take()
        _ = try take()
        try dropped.update(
            MapAccess.bytes(of: UInt32(0), size: 4), [UInt8](repeating: 0, count: dropped.valueBufferSize))
    }

    /// Events not counted because the table held ``AggregationOptions/maxKeys`` keys
    /// already, since the start or the last ``reset()``.
    public func droppedCount() throws(EBPFError) -> UInt64 {
        guard let value = try dropped.lookup(MapAccess.bytes(of: UInt32(0), size: 4)) else { return 0 }
        return dropped.perCPUValues(value).reduce(0) { $0 &+ Self.word($1, at: 0) }
    }

    /// Stops counting; the table stays readable until ``close()``. Idempotent.
    public func detach() {
        attachment.detach()
    }

    /// Stops counting and frees the program and its table. Idempotent.
    public func close() {
        attachment.detach()
        closed.store(true, ordering: .releasing)
        module.close()
    }

    /// Whether ``close()`` (or the wrapper's) has freed the table.
    var isClosed: Bool { closed.load(ordering: .acquiring) }

    public var description: String {
        "Aggregation(\(program.eventName) by \(program.key?.description ?? "nothing")\(program.field.map { ", of \($0)" } ?? "")\(isAttached ? "" : ", detached"))"
    }

    /// Adds up the per-CPU statistics of one key.
    private func entry(_ item: (key: [UInt8], value: [UInt8]), of table: MapAccess) -> Entry {
        var entry = Entry(key: program.keyShape.decode(item.key), count: 0)
        var sum: Int64 = 0
        var low: Int64?
        var high: Int64?
        for value in table.perCPUValues(item.value) {
            let count = Self.word(value, at: 0)
            guard count > 0 else { continue }
            entry.count &+= count
            sum &+= Int64(bitPattern: Self.word(value, at: 8))
            let (cpuLow, cpuHigh) = (
                Int64(bitPattern: Self.word(value, at: 16)), Int64(bitPattern: Self.word(value, at: 24))
            )
            low = Swift.min(low ?? cpuLow, cpuLow)
            high = Swift.max(high ?? cpuHigh, cpuHigh)
        }
        if program.field != nil, entry.count > 0 {
            (entry.sum, entry.min, entry.max) = (sum, low, high)
        }
        return entry
    }

    /// One key's statistics from both tables.
    private static func merged(_ first: Entry, _ second: Entry) -> Entry {
        var entry = first
        entry.count &+= second.count
        if let sum = second.sum { entry.sum = (entry.sum ?? 0) &+ sum }
        if let low = second.min { entry.min = Swift.min(entry.min ?? low, low) }
        if let high = second.max { entry.max = Swift.max(entry.max ?? high, high) }
        return entry
    }

    private static func word(_ bytes: [UInt8], at offset: Int) -> UInt64 {
        guard bytes.count >= offset + 8 else { return 0 }
        return bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: UInt64.self) }
    }

    static func sorted(_ entries: [Entry]) -> [Entry] {
        entries.sorted { ($0.count, $1.key?.description ?? "") > ($1.count, $0.key?.description ?? "") }
    }
}
