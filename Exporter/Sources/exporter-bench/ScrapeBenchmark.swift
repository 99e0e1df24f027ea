import EBPFExporter
import Foundation
import Logging
import ServiceLifecycle

/// The exporter's scrape latency with 1,000 series: an aggregation counting this process's
/// `lseek` calls by offset, driven with 1,000 distinct offsets, served over HTTP on
/// loopback and fetched 500 times by a plain HTTP/1.1 client. Prints a Markdown report.
@main
enum ScrapeBenchmark {
    static let series = 1_000
    static let scrapes = 500

    static func main() async throws {
        var logger = Logger(label: "exporter-bench")
        logger.logLevel = .warning
        let configuration = try ExporterConfiguration(
            yaml: """
                metrics:
                  - name: bench_lseek_total
                    help: lseek calls of the benchmark, by offset
                    count: syscall:lseek
                    by: offset
                    filter: { pid: \(getpid()) }
                """, file: "benchmark")
        let exporter = try Exporter(configuration, logger: logger)
        defer { exporter.close() }
        for offset in 0..<series { _ = lseek(-1, off_t(offset), SEEK_SET) }

        let render = try measure(scrapes) { _ = try exporter.metricsText() }
        let text = try exporter.metricsText()
        let samples = text.split(separator: "\n").filter { $0.hasPrefix("bench_lseek_total{") }.count
        guard samples == series else { throw BenchmarkError("expected \(series) series, /metrics has \(samples)") }

        let port = Port()
        let application = try MetricsServer.application(serving: exporter, on: "127.0.0.1:0", logger: logger) {
            port.set($0)
        }
        let group = ServiceGroup(services: [application], logger: logger)
        let server = Task { try await group.run() }
        let listening = await port.wait()
        var bytes = 0
        let scrape = try measure(scrapes) { bytes = try HTTPGet.body(port: listening, path: "/metrics").count }
        await group.triggerGracefulShutdown()
        try await server.value

        print("| with \(series) series (\(bytes) bytes) | median (ms) | p90 (ms) | p99 (ms) | max (ms) |")
        print("|---|---:|---:|---:|---:|")
        print(render.row("rendering the text (`Exporter.metricsText()`)"))
        print(scrape.row("a scrape: HTTP GET /metrics on loopback, connection each"))
        print()
        print("\(scrapes) of each, one after another, on \(ProcessInfo.processInfo.activeProcessorCount) CPUs.")
    }

    struct Timings {
        var milliseconds: [Double]
        func percentile(_ p: Double) -> Double {
            let sorted = milliseconds.sorted()
            return sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.down)))]
        }
        func row(_ name: String) -> String {
            let cells = [percentile(0.5), percentile(0.9), percentile(0.99), milliseconds.max() ?? 0]
            return "| \(name) | " + cells.map { String(format: "%.2f", $0) }.joined(separator: " | ") + " |"
        }
    }

    static func measure(_ count: Int, _ body: () throws -> Void) rethrows -> Timings {
        var timings = Timings(milliseconds: [])
        for _ in 0..<count {
            let start = ContinuousClock.now
            try body()
            timings.milliseconds.append((ContinuousClock.now - start) / .milliseconds(1))
        }
        return timings
    }
}

/// The port the server reports once it listens.
actor Port {
    private var port: Int?
    private var waiters: [CheckedContinuation<Int, Never>] = []

    nonisolated func set(_ port: Int) {
        Task { await self.store(port) }
    }

    private func store(_ port: Int) {
        self.port = port
        waiters.forEach { $0.resume(returning: port) }
        waiters = []
    }

    func wait() async -> Int {
        if let port { return port }
        return await withCheckedContinuation { waiters.append($0) }
    }
}

struct BenchmarkError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
