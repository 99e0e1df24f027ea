import Foundation
import XCTest

/// The exporter scraped by Prometheus every 100 ms for a minute while events flow.
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
        let prometheus = try await PrometheusServer(scraping: exporter.address, every: "100ms")
        defer {
            prometheus.stop()
            XCTAssertEqual(exporter.stop(), 0, "SIGTERM ends it gracefully")
        }
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
        let (descriptors, memory) = (exporter.openDescriptors, exporter.residentKilobytes)
        try await Task.sleep(for: .seconds(50))
        let (laterDescriptors, laterMemory) = (exporter.openDescriptors, exporter.residentKilobytes)

        XCTAssertEqual(laterDescriptors, descriptors, "descriptors after 10 s and after 60 s")
        XCTAssertLessThanOrEqual(
            laterMemory - memory, 2048, "resident kB after 10 s: \(memory), after 60 s: \(laterMemory)")
        let scrapes = try await prometheus.query("count_over_time(up{job=\"ebpf\"}[1m])") ?? 0
        let failed = try await prometheus.query(
            "count_over_time(up{job=\"ebpf\"}[1m]) - sum_over_time(up{job=\"ebpf\"}[1m])")
        XCTAssertGreaterThanOrEqual(scrapes, 540, "a scrape every 100 ms for a minute")
        XCTAssertEqual(failed, 0, "every scrape in the minute succeeded")
        print(
            "ENDURANCE scrapes=\(Int(scrapes)) descriptors=\(descriptors)->\(laterDescriptors) rss_kb=\(memory)->\(laterMemory)"
        )
    }
}
