import CoreMetrics
import Synchronization

/// The library's health through swift-metrics, so whatever backend the program bootstraps
/// (Prometheus, StatsD, OpenTelemetry) gets it: per buffer, the events received (per probe
/// for closure probes) and lost, as the counters `ebpf_events_received_total` and
/// `ebpf_events_lost_total`.
///
/// Reported after each drain of the buffer on the polling thread, by how much each count
/// grew since the last report: nothing on the per-record path.
final class BufferHealth: Sendable {
    static let receivedLabel = "ebpf_events_received_total"
    static let lostLabel = "ebpf_events_lost_total"

    /// One counter and the running total it follows.
    private final class Series: Sendable {
        let counter: Counter
        let read: @Sendable () -> UInt64
        /// Polling thread only.
        let reported = Atomic<UInt64>(0)

        init(_ label: String, _ dimensions: [(String, String)], read: @escaping @Sendable () -> UInt64) {
            counter = Counter(label: label, dimensions: dimensions)
            self.read = read
        }

        func report() {
            let now = read()
            let before = reported.load(ordering: .relaxed)
            guard now > before else { return }
            reported.store(now, ordering: .relaxed)
            counter.increment(by: Int64(clamping: now - before))
        }
    }

    private let series: [Series]

    /// A buffer opened by name: its received and lost counts, with the dimension
    /// `buffer=<table>`.
    init(table: String, statistics: BufferStatistics) {
        let dimensions = [("buffer", table)]
        series = [
            Series(Self.receivedLabel, dimensions) { statistics.received.load(ordering: .relaxed) },
            Series(Self.lostLabel, dimensions) { statistics.lost.load(ordering: .relaxed) },
        ]
    }

    /// Closure probes sharing a buffer: each probe's received count with the dimension
    /// `probe=<event>`, and the buffer's lost count with `probe=<events joined by +>`.
    init(probes: [(event: String, received: @Sendable () -> UInt64)], statistics: BufferStatistics) {
        series =
            probes.map { probe in Series(Self.receivedLabel, [("probe", probe.event)], read: probe.received) } + [
                Series(Self.lostLabel, [("probe", probes.map(\.event).joined(separator: "+"))]) {
                    statistics.lost.load(ordering: .relaxed)
                }
            ]
    }

    /// Polling thread only: adds what each count gained since the last report.
    func report() {
        for item in series { item.report() }
    }
}
