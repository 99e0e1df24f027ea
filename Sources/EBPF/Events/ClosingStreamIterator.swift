import EBPFKernel

/// The iterator of ``ProbeEvents`` and ``EventRecords``: the stream's elements; dropping it
/// ends what delivers them.
public struct ClosingStreamIterator<Element: Sendable>: AsyncIteratorProtocol {
    var base: AsyncStream<Element>.Iterator
    let closer: OnDeinit

    public mutating func next() async -> Element? {
        await base.next()
    }
}
