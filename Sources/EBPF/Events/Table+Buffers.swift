import EBPFKernel
import EBPFProgram

extension Table {
    /// Opens this perf buffer table (declared with `BPF_PERF_OUTPUT(name)`) and calls
    /// `handler` with every record, decoded by field name, as bcc's
    /// `b["table"].open_perf_buffer(callback)` with `event()` decoding.
    ///
    /// The fields are those of the struct the program passes to `table.perf_submit`, as
    /// libbcc recorded them at compile time.
    ///
    /// - Parameters:
    ///   - options: Ring size and wake-up batching; the defaults are fast and lossless (the
    ///     ring is sized from the submitted struct's size).
    ///   - lost: Called with the number of records the kernel dropped because a ring was full,
    ///     per report; ``EventBuffer/lostCount`` keeps the running total.
    ///   - handler: Called on the wrapper's polling thread with each record.
    /// - Returns: A handle with delivery counters that closes the buffer.
    /// - Throws: ``EBPFError/Code/tableNotFound``, ``EBPFError/Code/invalidArgument`` when
    ///   the table is not a perf buffer, ``EBPFError/Code/decodingFailed`` when the submitted
    ///   struct has a field the decoder cannot size.
    ///
    /// bcc Python: `b["table"].open_perf_buffer(callback)`. Each CPU's ring is read one bounded
    /// pass at a time, so a flooded buffer cannot starve the wrapper's other buffers.
    @discardableResult
    public func openPerfBuffer(
        options: PerfBufferOptions = .default,
        lost: (@Sendable (UInt64) -> Void)? = nil,
        handler: @escaping @Sendable (EventRecord) -> Void
    ) throws(EBPFError) -> EventBuffer {
        try session.openNativeBuffer(name, expecting: .perfEventArray, lost: lost, decoder: byName(handler)) {
            (info, module, callbacks) throws(EBPFError) in
            let size =
                (try? SubmittedStructLayout.make(table: info.name, descriptions: info.submittedFields))?.size ?? 0
            return try PerfBufferSource(
                table: info, module: module, options: options, recordSize: size, budget: session.perfRingBudget,
                callbacks: callbacks)
        }
    }

    /// Opens this perf buffer table and calls `handler` with every record loaded as `T`, a
    /// Swift struct with the same layout as the submitted C struct. No allocation per record.
    ///
    /// - Throws: as ``openPerfBuffer(options:lost:handler:)``, and
    ///   ``EBPFError/Code/decodingFailed`` when `T`'s size differs from the C struct's or a
    ///   field of `T` cannot hold every byte pattern (a `Bool`, an enum, an `Optional`:
    ///   declare an integer of the C field's size instead).
    @discardableResult
    public func openPerfBuffer<T: BitwiseCopyable>(
        as type: T.Type, options: PerfBufferOptions = .default,
        lost: (@Sendable (UInt64) -> Void)? = nil,
        handler: @escaping @Sendable (T) -> Void
    ) throws(EBPFError) -> EventBuffer {
        try session.openNativeBuffer(name, expecting: .perfEventArray, lost: lost, decoder: typed(type, handler)) {
            (info, module, callbacks) throws(EBPFError) in
            try PerfBufferSource(
                table: info, module: module, options: options, recordSize: MemoryLayout<T>.stride,
                budget: session.perfRingBudget,
                callbacks: callbacks)
        }
    }

    /// Opens this ring buffer table (declared with `BPF_RINGBUF_OUTPUT(name, pages)`) and
    /// calls `handler` with every record decoded by field name, as bcc's
    /// `b["table"].open_ring_buffer(callback)`.
    ///
    /// Needs kernel 5.8 or later. Each read takes the records committed when it began, so a
    /// flooded ring buffer cannot starve the wrapper's other buffers.
    @discardableResult
    public func openRingBuffer(
        handler: @escaping @Sendable (EventRecord) -> Void
    ) throws(EBPFError) -> EventBuffer {
        try session.openNativeBuffer(name, expecting: .ringBuffer, lost: nil, decoder: byName(handler)) {
            (info, module, callbacks) throws(EBPFError) in
            try RingBufferSource(table: info, module: module, callbacks: callbacks)
        }
    }

    /// Opens this ring buffer table and calls `handler` with every record loaded as `T`.
    @discardableResult
    public func openRingBuffer<T: BitwiseCopyable>(
        as type: T.Type, handler: @escaping @Sendable (T) -> Void
    ) throws(EBPFError) -> EventBuffer {
        try session.openNativeBuffer(name, expecting: .ringBuffer, lost: nil, decoder: typed(type, handler)) {
            (info, module, callbacks) throws(EBPFError) in
            try RingBufferSource(table: info, module: module, callbacks: callbacks)
        }
    }
}

/// Turns a table's description into the one function a buffer calls per record; it counts
/// the record in the statistics, decodes it and calls the user's handler.
typealias RecordDecoder = (TableInfo, BufferStatistics) throws(EBPFError) -> @Sendable (UnsafeRawBufferPointer) -> Void

private func byName(_ handler: @escaping @Sendable (EventRecord) -> Void) -> RecordDecoder {
    { (info, statistics) throws(EBPFError) in
        let layout = try SubmittedStructLayout.make(table: info.name, descriptions: info.submittedFields)
        let recycler = RecordStorageRecycler.forBuffer()
        return { raw in
            statistics.countReceived()
            handler(EventRecord(layout: layout, bytes: raw, recycler: recycler))
        }
    }
}

private func typed<T: BitwiseCopyable>(_: T.Type, _ handler: @escaping @Sendable (T) -> Void) -> RecordDecoder {
    { (info, statistics) throws(EBPFError) in
        try PlainData.check(T.self, as: "the record type of buffer '\(info.name)'")
        // C's sizeof includes tail padding; Swift's size does not, its stride does.
        if let layout = try? SubmittedStructLayout.make(table: info.name, descriptions: info.submittedFields),
            layout.size != MemoryLayout<T>.size, layout.size != MemoryLayout<T>.stride
        {
            throw EBPFError(
                .decodingFailed,
                "\(T.self) is \(MemoryLayout<T>.size) bytes but the struct submitted to '\(info.name)' is \(layout.size) bytes (fields: \(info.submittedFields.joined(separator: ", "))); declare the Swift struct with the same fields, types and order"
            )
        }
        return { raw in
            statistics.countReceived()
            // The kernel pads perf records to 8 bytes, so a record is never shorter than the
            // struct the program submitted; a shorter one is not of this type.
            guard raw.count >= MemoryLayout<T>.size else { return }
            handler(raw.loadUnaligned(as: T.self))
        }
    }
}

extension Session {
    /// Opens a buffer of the wrapper's own program and tracks it.
    func openNativeBuffer(
        _ name: String, expecting kind: TableType, lost: (@Sendable (UInt64) -> Void)?,
        decoder: RecordDecoder,
        makeSource: (TableInfo, BPFModule, BufferCallbacks) throws(EBPFError) -> any EventSource
    ) throws(EBPFError) -> EventBuffer {
        try checkOpen()
        let module = try nativeModule()
        let info = try module.table(name)
        try checkKind(info, kind)
        try checkNotOpen(table: name)
        return try track(openBuffer(info, module: module, lost: lost, decoder: decoder, makeSource: makeSource))
    }

    private func checkKind(_ info: TableInfo, _ kind: TableType) throws(EBPFError) {
        guard info.type == kind else {
            let declaration =
                kind == .ringBuffer ? "BPF_RINGBUF_OUTPUT(\(info.name), 8)" : "BPF_PERF_OUTPUT(\(info.name))"
            throw EBPFError(
                .invalidArgument,
                "table '\(info.name)' is a \(info.type), not a \(kind); declare it with \(declaration) or open it with the matching call"
            )
        }
    }

    /// Opens a buffer over `info` of `module` and starts delivering it; the caller tracks it.
    ///
    /// - Parameter health: What the buffer reports through swift-metrics; by default its
    ///   received and lost counts under its table's name.
    func openBuffer(
        _ info: TableInfo, module: BPFModule, lost: (@Sendable (UInt64) -> Void)?,
        decoder: RecordDecoder, health: ((BufferStatistics) -> BufferHealth)? = nil,
        makeSource: (TableInfo, BPFModule, BufferCallbacks) throws(EBPFError) -> any EventSource
    ) throws(EBPFError) -> EventBuffer {
        let statistics = BufferStatistics()
        let reporter = health?(statistics) ?? BufferHealth(table: info.name, statistics: statistics)
        let callbacks = BufferCallbacks(
            onRecord: try decoder(info, statistics),
            onLost: { count in
                statistics.countLost(count)
                lost?(count)
            },
            afterDrain: { reporter.report() })
        let source = try makeSource(info, module, callbacks)
        do throws(EBPFError) {
            try poller.add(source)
        } catch {
            source.release()
            throw error
        }
        return EventBuffer(
            table: info.name, tableType: info.type, statistics: statistics, source: source, poller: poller)
    }
}
