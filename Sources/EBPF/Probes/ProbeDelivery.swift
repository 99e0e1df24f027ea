/// How a closure probe's events reach its handler, on the polling thread.
enum ProbeDelivery: Sendable {
    /// Each event copied out of the ring into a ``ProbeEvent``, which the handler may keep.
    case copied(@Sendable (ProbeEvent) -> Void)
    /// Each event lent in place as a ``ProbeEventView``, for the call only.
    case borrowed(@Sendable (borrowing ProbeEventView) -> Void)
}

/// Where a group's probes recorded stack ids: naming them is part of delivering.
struct StackNaming: Sendable {
    let reader: StackReader
    /// Each probe's offsets of its kernel and user stack ids in its record, by probe index.
    let offsets: [(kernel: Int?, user: Int?)]

    /// The stacks of probe `index`'s record `raw`, named; nil for a probe beyond the list.
    func stacks(ofRecord raw: UnsafeRawBufferPointer, probe index: Int) -> RecordedStacks? {
        guard offsets.indices.contains(index) else { return nil }
        return reader.stacks(ofRecord: raw, at: offsets[index])
    }
}
