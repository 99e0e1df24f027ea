import Foundation
import XCTest

/// The exporter scraped by Prometheus every 100 ms for a minute while events flow.
///
/// What it checks holds however busy the machine is: a scrape that misses Prometheus's
/// 100 ms timeout on a loaded machine fails, and is not counted against the exporter;
/// descriptors are compared once Prometheus has gone and its connections have closed.
final class EnduranceTests: XCTestCase {
    func testAMinuteOfScrapesEvery100msLeavesDescriptorsAndMemoryWhereTheyWere() async throws {
        try KernelTestGate.requireRootAndPrometheus()
        let exporter = try ExporterProcess(
            configuration: """
                metrics:
                  - name: soak_openat_total
                    count: syscall:openat
                    by: comm
                  - name: soak_read_bytes
                    histogram: syscall:read
                    field: count
                    by: comm
                  - name: soak_read_latency_seconds
                    latency: read
                    by: comm
                """)
        defer { XCTAssertEqual(exporter.stop(), 0, "SIGTERM ends it gracefully") }
        let idleDescriptors = exporter.openDescriptors
        let prometheus = try await PrometheusServer(scraping: exporter.address, every: "100ms")
        var prometheusRunning = true
        defer { if prometheusRunning { prometheus.stop() } }
        // Events flow all along: opens and reads by a thread of the test's.
        let load = Thread {
            var buffer = [UInt8](repeating: 0, count: 64)
            while !Thread.current.isCancelled {
                let fd = open("/proc/self/stat", O_RDONLY)
                if fd >= 0 {
                    _ = read(fd, &buffer, buffer.count)
                    close(fd)
                }
                usleep(500)
            }
        }
        load.start()
        defer { load.cancel() }

        // Warmed up: the first scrapes have allocated what every later one reuses.
        let warm = try await prometheus.waitForValue("up{job=\"ebpf\"}", 1)
        XCTAssertEqual(warm, 1)
        try await Task.sleep(for: .seconds(10))
        let memory = exporter.residentKilobytes
        try await Task.sleep(for: .seconds(50))
        let laterMemory = exporter.residentKilobytes
        let scrapes = try await prometheus.query("sum_over_time(up{job=\"ebpf\"}[1m])") ?? 0
        let attempts = try await prometheus.query("count_over_time(up{job=\"ebpf\"}[1m])") ?? 0
        prometheus.stop()
        prometheusRunning = false
        // Prometheus has closed its connections: the exporter's close with them.
        let deadline = ContinuousClock.now + .seconds(60)
        while exporter.openDescriptors > idleDescriptors, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        let laterDescriptors = exporter.openDescriptors

        XCTAssertEqual(laterDescriptors, idleDescriptors, "descriptors before the first scrape and after the last")
        XCTAssertLessThanOrEqual(
            laterMemory - memory, 2048, "resident kB after 10 s: \(memory), after 60 s: \(laterMemory)")
        XCTAssertGreaterThanOrEqual(scrapes, 100, "successful scrapes in the minute, of \(Int(attempts)) attempts")
        print(
            "ENDURANCE scrapes=\(Int(scrapes))/\(Int(attempts)) descriptors=\(idleDescriptors)->\(laterDescriptors) rss_kb=\(memory)->\(laterMemory)"
        )
    }
}
