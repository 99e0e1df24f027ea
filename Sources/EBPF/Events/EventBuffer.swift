import Synchronization
import EBPFKernel

/// An open perf or ring buffer that delivers records to a callback on the wrapper's
/// polling thread.
///
/// Returned by ``Table/openPerfBuffer(options:lost:handler:)`` and
/// ``Table/openRingBuffer(handler:)``. The buffer stays open until ``close()`` or the
/// wrapper's `close()`; dropping the handle does not close it.
public final class EventBuffer: Sendable, CustomStringConvertible {
    /// The table (map) the buffer reads.
    public let table: String
    /// Whether this is a perf buffer (`BPF_PERF_OUTPUT`) or a ring buffer
    /// (`BPF_RINGBUF_OUTPUT`).
    public let tableType: TableType
    let statistics: BufferStatistics
    private let source: any EventSource
    private let poller: EventPoller
    private let closed = Atomic<Bool>(false)
    private let onClose = EndAction()

    init(
        table: String, tableType: TableType, statistics: BufferStatistics, source: any EventSource, poller: EventPoller
    ) {
        self.table = table
        self.tableType = tableType
        self.statistics = statistics
        self.source = source
        self.poller = poller
    }

    /// Whether the buffer still delivers records (neither it nor its wrapper was closed).
    public var isOpen: Bool { !closed.load(ordering: .acquiring) }

    /// Records handed to the callback so far.
    public var receivedCount: UInt64 { statistics.received.load(ordering: .relaxed) }

    /// The running total of records the kernel dropped because the buffer was full (perf
    /// buffers report this; a ring buffer's producer sees the failure instead, in the BPF
    /// program).
    public var lostCount: UInt64 { statistics.lost.load(ordering: .relaxed) }

    /// Stops delivery and frees the buffer's memory. Records still waiting are dropped.
    /// Idempotent; safe to call from the buffer's own callback.
    public func close() {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        poller.remove(source)
        onClose.run()
    }

    /// Runs `end` on a thread of its own, which the wrapper's `close()` waits for: what a
    /// dropped iterator does instead of blocking the cooperative pool.
    func endOffPool(_ end: @escaping @Sendable () -> Void) {
        poller.endOffPool(end)
    }

    /// Returns once a delivery of this buffer's records that is running now has ended (at
    /// once on the polling thread, or when none runs); later deliveries see what the caller
    /// wrote before.
    func waitForRunningDelivery() {
        poller.waitForRunningDrain(of: source)
    }

    /// Runs `action` once the buffer is closed (at once if it already is).
    func setOnClose(_ action: @escaping @Sendable () -> Void) {
        onClose.set(action)
    }

    public var description: String {
        "EventBuffer(\(table), \(tableType), received: \(receivedCount), lost: \(lostCount))"
    }
}

/// Counters shared by a buffer's C callbacks and its handle.
///
/// Only the polling thread writes them, so an increment is a relaxed load and store (no
/// locked read-modify-write on the per-record path); other threads read them atomically.
final class BufferStatistics: Sendable {
    let received = Atomic<UInt64>(0)
    let lost = Atomic<UInt64>(0)

    /// Polling thread only.
    @inline(__always)
    func countReceived() {
        received.store(received.load(ordering: .relaxed) &+ 1, ordering: .relaxed)
    }

    /// Polling thread only.
    func countLost(_ count: UInt64) {
        lost.store(lost.load(ordering: .relaxed) &+ count, ordering: .relaxed)
    }
}

/// How a perf buffer is sized and how often the kernel wakes its reader.
///
/// The defaults are the fast, lossless configuration: the kernel wakes the polling thread
/// once per `wakeupEvents` records instead of once per record (per-record wake-ups cost the
/// traced program many times its syscall time), the polling thread also drains every
/// buffer at least every 10 ms, so a lone record still arrives promptly, and each CPU's ring
/// holds about 16,000 records, enough to ride out the polling thread being descheduled for
/// several milliseconds at a million records a second.
public struct PerfBufferOptions: Sendable, Hashable {
    /// Pages of ring per CPU, a power of two; nil sizes the ring from the record size
    /// (``automaticPageCount(recordSize:)``) within a memory budget: one buffer's rings take
    /// at most ``automaticBytesPerBuffer`` and a wrapper's automatically sized rings at most
    /// ``automaticBytesPerWrapper``, all CPUs counted (later buffers get smaller rings, never
    /// fewer than ``minimumAutomaticPageCount`` pages per CPU). A page count given here is
    /// used as is.
    public var pageCount: Int?
    /// Records the kernel collects before it wakes the reader; 1 wakes on every record,
    /// as bcc does by default.
    public var wakeupEvents: Int

    public init(pageCount: Int? = nil, wakeupEvents: Int = 128) {
        self.pageCount = pageCount
        self.wakeupEvents = wakeupEvents
    }

    public static let `default` = PerfBufferOptions()

    /// The most memory one automatically sized buffer's rings take, all CPUs together:
    /// 16 MiB (8 MiB per CPU on 2 CPUs, 128 KiB per CPU on 128).
    public static let automaticBytesPerBuffer = 16 << 20
    /// The most memory a wrapper's automatically sized rings take together: 64 MiB.
    public static let automaticBytesPerWrapper = 64 << 20
    /// The fewest pages per CPU automatic sizing gives a buffer, whatever the budget: 8
    /// (32 KiB).
    public static let minimumAutomaticPageCount = 8

    /// The pages per CPU wanted when ``pageCount`` is nil, before the budget: room for about 16,384 records of
    /// `recordSize` bytes (plus the kernel's 8-byte sample header), as a power of two from
    /// 256 pages (1 MiB) to 2048 pages (8 MiB). An unknown size (0) gets 256 pages.
    public static func automaticPageCount(recordSize: Int) -> Int {
        guard recordSize > 0 else { return 256 }
        let bytes = (recordSize + 8) * 16_384
        var pages = 256
        while pages < 2048, pages * 4096 < bytes { pages *= 2 }
        return pages
    }

    func validate() throws(EBPFError) {
        guard let pageCount else {
            return try PerfBufferOptions(pageCount: 256, wakeupEvents: wakeupEvents).validate()
        }
        guard pageCount > 0, pageCount & (pageCount - 1) == 0, pageCount <= 1 << 16 else {
            throw EBPFError(
                .invalidArgument,
                "pageCount \(pageCount) is not a power of two between 1 and 65536; the kernel maps perf rings in power-of-two page counts (e.g. 64, 256)"
            )
        }
        guard wakeupEvents >= 1, wakeupEvents <= 1 << 20 else {
            throw EBPFError(
                .invalidArgument, "wakeupEvents \(wakeupEvents) must be between 1 and 1048576")
        }
    }
}
