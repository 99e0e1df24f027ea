import Synchronization
import EBPFKernel
import EBPFProgram

/// The perf buffer that probes attached together share: one ring per CPU for all of them,
/// whose records carry the index of the probe that made them
/// (``ProbeRecordHeader/probeIndex``).
///
/// Forty probes with a buffer each pinned forty sets of rings (up to the wrapper's 64 MiB
/// budget), with eighty perf events and their mappings to make; shared, they take one set.
/// Each probe keeps its own received count and stops receiving when it detaches; the buffer
/// closes when the last of them detaches. What the kernel drops is counted for the buffer.
final class SharedProbeBuffer: Sendable {
    /// One probe's share of the buffer.
    final class Member: Sendable {
        /// Cleared when the probe detaches; read by the polling thread before each delivery.
        let isActive = Atomic<Bool>(true)
        /// Written by the polling thread only.
        let received = Atomic<UInt64>(0)
        let layout: RecordLayout
        /// The layout, lent to each record without reference counting: `members` keeps it.
        let layoutReference: Unmanaged<RecordLayout>

        init(layout: RecordLayout) {
            self.layout = layout
            layoutReference = Unmanaged.passUnretained(layout)
        }
    }

    let members: [Member]
    private let buffer: EventBuffer
    private let activeCount: Lock<Int>

    /// Opens `table` of `module` for `layouts`, the records of the probes in index order
    /// (their events named by `events`), and hands each active probe's records on as
    /// `delivery` says, their stacks named by `stacks`. A ring buffer's reader runs
    /// `ringBudget` when released.
    init(
        table: TableInfo, module: BPFModule, layouts: [RecordLayout], events: [String], options: PerfBufferOptions,
        wrapper: Session, lost: (@Sendable (UInt64) -> Void)?, stacks: StackNaming?, delivery: ProbeDelivery,
        ringBudget: EndAction
    ) throws(EBPFError) {
        let members = layouts.map(Member.init)
        self.members = members
        activeCount = Lock(members.count)
        buffer = try wrapper.openBuffer(
            table, module: module, lost: lost,
            decoder: { _, _ in
                // The buffer's own received count goes unread: each probe counts its records.
                let recycler = RecordStorageRecycler.forBuffer()
                /// The active probe whose record `raw` is, its count raised; nil for none.
                @inline(__always) @Sendable func member(of raw: UnsafeRawBufferPointer) -> (Int, Member)? {
                    guard raw.count >= ProbeRecordHeader.Offset.end else { return nil }
                    let index = Int(
                        raw.loadUnaligned(fromByteOffset: ProbeRecordHeader.Offset.probeIndex, as: UInt32.self))
                    guard index < members.count else { return nil }
                    // `members` outlives this closure, which holds it: no retain per record.
                    unowned(unsafe) let member = members[index]
                    // Relaxed: a detach clears the flag, then waits for the running drain
                    // through the poller's lock, which orders the store before later drains.
                    guard member.isActive.load(ordering: .relaxed) else { return nil }
                    member.received.store(member.received.load(ordering: .relaxed) &+ 1, ordering: .relaxed)
                    return (index, member)
                }
                switch delivery {
                case .copied(let deliver):
                    return { raw in
                        guard let (index, member) = member(of: raw) else { return }
                        // The layout lives as long as `members`: lent, not retained, per record.
                        member.layoutReference._withUnsafeGuaranteedRef { layout in
                            var event = ProbeEvent(layout: layout, bytes: raw, recycler: recycler)
                            if let stacks { event.recordedStacks = stacks.stacks(ofRecord: raw, probe: index) }
                            deliver(event)
                        }
                    }
                case .borrowed(let deliver):
                    return { raw in
                        guard let (index, member) = member(of: raw) else { return }
                        let view = ProbeEventView(
                            layout: member.layoutReference, bytes: raw,
                            stacks: stacks?.stacks(ofRecord: raw, probe: index))
                        deliver(view)
                    }
                }
            },
            health: { statistics in
                BufferHealth(
                    probes: zip(events, members).map { event, member in
                        (event, { member.received.load(ordering: .relaxed) })
                    }, statistics: statistics)
            },
            makeSource: { (info, module, callbacks) throws(EBPFError) -> any EventSource in
                guard info.type == .ringBuffer else {
                    return try PerfBufferSource(
                        table: info, module: module, options: options, recordSize: layouts.map(\.size).max() ?? 0,
                        budget: wrapper.perfRingBudget, callbacks: callbacks)
                }
                // Emitted into the ring in place, submitted without a wake-up below a watermark.
                let lost = try MapAccess(info: module.table(ProbeProgram.lostTableName), module: module)
                return try RingBufferSource(
                    table: info, module: module, callbacks: callbacks, timedDrain: true, onRelease: ringBudget.run,
                    lostCount: {
                        guard let value = try? lost.lookup(MapAccess.bytes(of: UInt32(0), size: 4)) else { return nil }
                        return lost.perCPUValues(value).reduce(0) { $0 &+ Aggregation.word($1, at: 0) }
                    })
            })
    }

    /// Records the kernel dropped because a ring was full, whichever probe made them.
    var lostCount: UInt64 { buffer.lostCount }

    /// Stops delivering probe `index`'s records; once this returns, its handler is not
    /// called again (unless this runs inside that handler, which then finishes). The last
    /// probe to stop closes the buffer. Idempotent.
    func stop(_ index: Int) {
        guard members[index].isActive.exchange(false, ordering: .acquiringAndReleasing) else { return }
        let isLast = activeCount.withLock { count -> Bool in
            count -= 1
            return count == 0
        }
        if isLast {
            buffer.close()
        } else {
            buffer.waitForRunningDelivery()
        }
    }

    /// As ``EventBuffer/endOffPool(_:)``.
    func endOffPool(_ end: @escaping @Sendable () -> Void) {
        buffer.endOffPool(end)
    }

    /// Closes the buffer whatever its probes' state: when attaching the group failed.
    func close() {
        buffer.close()
    }
}
