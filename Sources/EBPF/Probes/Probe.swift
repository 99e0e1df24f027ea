import Synchronization
import EBPFKernel
import EBPFProgram

/// A closure probe: a generated program attached to a kernel event, whose events reach a
/// Swift closure or an async sequence.
///
/// Returned by ``EBPFWrapper/attach(_:filter:options:lost:handler:)-(AttachPoint,_,_,_,_)``
/// and its siblings. ``detach()`` stops it and frees its program and buffer; the wrapper's
/// `close()` detaches it too. Dropping the handle does not.
public final class Probe: Sendable, CustomStringConvertible {
    /// Where it was asked to attach (``eventName`` names where it did).
    public let point: AttachPoint
    /// The program that runs in the kernel, generated for this probe.
    @_spi(Generator) public let program: ProbeProgram
    /// The tracepoint format the fields come from; nil for a kprobe on a function that is not
    /// a syscall.
    public let format: TracepointFormat?
    let attachment: Attachment
    /// The perf buffer shared with the probes attached in the same call, and this probe's
    /// index in it.
    private let buffer: SharedProbeBuffer
    private let index: Int
    private let drops: ConsumerDrops
    /// Where the probe's stacks are read, when it records them.
    private let stacks: StackReader?
    /// The compiled program, shared with the probes attached in the same call; this
    /// probe's hold on it is given back by ``detach()``.
    let module: SharedModule
    private let onDetach = EndAction()
    private let releaseModule = EndAction()

    init(
        point: AttachPoint, program: ProbeProgram, format: TracepointFormat?, module: SharedModule,
        attachment: Attachment, buffer: SharedProbeBuffer, drops: ConsumerDrops, stacks: StackReader? = nil
    ) {
        module.hold()
        self.point = point
        self.program = program
        self.format = format
        self.attachment = attachment
        self.buffer = buffer
        self.index = program.probeIndex
        self.drops = drops
        self.stacks = stacks
        self.module = module
        releaseModule.set { module.release() }
    }

    /// The event's name: `syscalls:sys_enter_bind`, `kprobe:__x64_sys_bind`.
    public var eventName: String { program.eventName }

    /// Whether the probe still runs in the kernel.
    public var isAttached: Bool { attachment.isAttached }

    /// Events delivered to the closure or the sequence so far.
    public var receivedCount: UInt64 {
        buffer.members[index].received.load(ordering: .relaxed) - drops.count.load(ordering: .relaxed)
    }

    /// Events lost: dropped by the kernel because the buffer was full, plus, for an async
    /// sequence, events dropped because its consumer fell more than its buffering limit
    /// behind. Probes attached together share one buffer, so the kernel's count is theirs
    /// together.
    public var lostCount: UInt64 { buffer.lostCount + drops.count.load(ordering: .relaxed) }

    /// The stacks the probe could not record (``ProbeOptions/stacks``), counted in the
    /// kernel; probes attached together share one stack table, so the counts are theirs
    /// together. All zero for a probe that records no stack.
    ///
    /// - Throws: ``EBPFError/Code/closed`` once every probe attached with this one is detached.
    public func stackFailures() throws(EBPFError) -> StackFailures {
        try stacks?.failureCounts() ?? StackFailures()
    }

    /// Detaches the program, stops delivery and frees the buffer, and the program once every
    /// probe compiled with it is detached. Idempotent; safe to call from the probe's own
    /// closure.
    public func detach() {
        attachment.detach()
        buffer.stop(index)
        releaseModule.run()
        onDetach.run()
    }

    /// Detaches every one of `probes` together: their programs leave the kernel at once
    /// (about one grace period for all, where one after another costs one each), then each
    /// stops delivering and frees what it held. When this returns, no closure of theirs is
    /// called again (unless this runs inside one, which then finishes). Idempotent.
    public static func detach(_ probes: some Sequence<Probe>) {
        let probes = Array(probes)
        Attachment.detachTogether(probes.map(\.attachment))
        probes.forEach { $0.detach() }
    }

    /// Detaches on a thread of its own (the iterator of ``events`` was dropped on the
    /// cooperative pool); the wrapper's `close()` waits for it.
    func detachOffPool() {
        buffer.endOffPool { [self] in detach() }
    }

    func setOnDetach(_ action: @escaping @Sendable () -> Void) {
        onDetach.set(action)
    }

    public var description: String {
        "Probe(\(eventName)\(isAttached ? "" : ", detached"), received: \(receivedCount), lost: \(lostCount))"
    }
}

/// Events an async sequence's consumer fell too far behind to take; created before its
/// probe so the delivery closure can count from the first event.
final class ConsumerDrops: Sendable {
    let count = Atomic<UInt64>(0)
}

/// The events of one probe as an `AsyncSequence`, iterated once. Iterating ends when the
/// probe is detached (or its wrapper closed); leaving the loop (a `break`, a thrown error, a
/// cancelled task) detaches the probe, on a thread of its own so that the task never waits
/// for the polling thread; the wrapper's `close()` waits for that detach.
public struct ProbeEvents: AsyncSequence, Sendable {
    public typealias Element = ProbeEvent
    /// The probe delivering the events.
    public let probe: Probe
    let stream: AsyncStream<ProbeEvent>

    public func makeAsyncIterator() -> ClosingStreamIterator<ProbeEvent> {
        let probe = probe
        return ClosingStreamIterator(base: stream.makeAsyncIterator(), closer: OnDeinit { probe.detachOffPool() })
    }
}
