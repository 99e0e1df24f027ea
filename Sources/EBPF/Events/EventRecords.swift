import EBPFKernel
import EBPFProgram

/// The records of a native perf or ring buffer as an `AsyncSequence`, iterated once.
/// Iterating ends when the buffer is closed (or its wrapper); leaving the loop (a `break`, a
/// thrown error, a cancelled task) closes the buffer, on a thread of its own so that the
/// task never waits for the polling thread; the wrapper's `close()` waits for that close.
///
/// ```swift
/// for await record in try b.table("events").records() {
///     print(record.pid?.intValue ?? -1)
/// }
/// ```
public struct EventRecords: AsyncSequence, Sendable {
    public typealias Element = EventRecord
    /// The buffer delivering the records: its counters, and `close()`.
    public let buffer: EventBuffer
    let stream: AsyncStream<EventRecord>
    let drops: ConsumerDrops

    /// Records dropped because the consumer fell more than its buffering limit behind
    /// (the kernel's own losses are ``EventBuffer/lostCount``).
    public var droppedCount: UInt64 { drops.count.load(ordering: .relaxed) }

    public func makeAsyncIterator() -> ClosingStreamIterator<EventRecord> {
        let buffer = buffer
        return ClosingStreamIterator(
            base: stream.makeAsyncIterator(), closer: OnDeinit { buffer.endOffPool { buffer.close() } })
    }
}

extension Table {
    /// Opens this perf buffer (`BPF_PERF_OUTPUT`) or ring buffer (`BPF_RINGBUF_OUTPUT`)
    /// table and returns its records, decoded by field name, as an async sequence.
    ///
    /// - Parameters:
    ///   - options: For a perf buffer, ring size and wake-up batching.
    ///   - bufferingLimit: Records kept for a slow consumer; beyond it the newest are dropped
    ///     and counted in ``EventRecords/droppedCount``.
    /// - Throws: as ``openPerfBuffer(options:lost:handler:)``, and
    ///   ``EBPFError/Code/invalidArgument`` for a table that is neither kind of buffer.
    public func records(
        options: PerfBufferOptions = .default, bufferingLimit: Int = 65_536
    ) throws(EBPFError) -> EventRecords {
        let (stream, continuation) = AsyncStream.makeStream(
            of: EventRecord.self, bufferingPolicy: .bufferingOldest(max(1, bufferingLimit)))
        let drops = ConsumerDrops()
        let deliver: @Sendable (EventRecord) -> Void = { record in
            if case .dropped = continuation.yield(record) { drops.count.add(1, ordering: .relaxed) }
        }
        let buffer: EventBuffer
        switch type {
        case .ringBuffer: buffer = try openRingBuffer(handler: deliver)
        case .perfEventArray: buffer = try openPerfBuffer(options: options, handler: deliver)
        case let other:
            throw EBPFError(
                .invalidArgument,
                "table '\(name)' is a \(other), not a perf or ring buffer; declare it with BPF_PERF_OUTPUT(\(name)) or BPF_RINGBUF_OUTPUT(\(name), 8)"
            )
        }
        buffer.setOnClose { continuation.finish() }
        // Cancelled: the stream was dropped or its task cancelled, on the cooperative pool.
        continuation.onTermination = { termination in
            if case .cancelled = termination { buffer.endOffPool { buffer.close() } }
        }
        return EventRecords(buffer: buffer, stream: stream, drops: drops)
    }
}
