import EBPF
import Foundation
import XCTest

@testable import EBPFExporter

/// The exporter in process: what it serves, and what it leaves when it cannot start.
final class ExporterTests: XCTestCase {
    /// This process's descriptors of BPF programs and maps.
    private func bpfDescriptors() -> Int {
        let directory = "/proc/self/fd"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { name in
            let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: "\(directory)/\(name)")) ?? ""
            return target.hasPrefix("anon_inode:bpf")
        }.count
    }

    func testAFailingMetricLeavesNothingAttachedOrOpen() throws {
        try KernelTestGate.require(geteuid() == 0, "not root")
        let before = bpfDescriptors()
        let configuration = try ExporterConfiguration(
            yaml: """
                metrics:
                  - name: opens_total
                    count: syscall:openat
                  - name: nothing_total
                    count: syscall:no_such_syscall
                """)
        XCTAssertThrowsError(try Exporter(configuration)) { error in
            let error = error as? ExporterError
            XCTAssertEqual(error?.context, "metric 'nothing_total' (syscall:no_such_syscall)")
            XCTAssertEqual(error?.underlying.code, .notFound)
        }
        XCTAssertEqual(bpfDescriptors(), before, "the first metric's program and maps were closed")
    }

    func testANativeGaugeAndHistogramTableServeTheirValues() throws {
        try KernelTestGate.require(geteuid() == 0, "not root")
        let configuration = try ExporterConfiguration(
            yaml: """
                programs:
                  - text: |
                      BPF_HASH(levels, u32, s64);
                      BPF_HISTOGRAM(sizes);
                      int fill(void *ctx) {
                          if ((bpf_get_current_pid_tgid() >> 32) != \(getpid())) return 0;
                          u32 key = 7;
                          s64 level = -5;
                          levels.update(&key, &level);
                          sizes.increment(bpf_log2l(100));
                          return 0;
                      }
                    attach:
                      - tracepoint: syscalls:sys_enter_getppid
                        function: fill
                    tables:
                      - table: levels
                        name: test_level
                        type: gauge
                        labels: [queue]
                      - table: sizes
                        name: test_sizes
                        type: histogram
                """)
        let exporter = try Exporter(configuration)
        defer { exporter.close() }
        for _ in 0..<3 { _ = getppid() }
        let text = try exporter.metricsText()
        XCTAssertTrue(text.contains("# TYPE test_level gauge\ntest_level{queue=\"7\"} -5\n"), text)
        // 100 is in slot 7 (64 to 127): three values at le="127", none at le="63".
        XCTAssertTrue(text.contains("test_sizes_bucket{le=\"63\"} 0\ntest_sizes_bucket{le=\"127\"} 3\n"), text)
        XCTAssertTrue(text.contains("test_sizes_bucket{le=\"+Inf\"} 3\ntest_sizes_count 3\n"), text)
        XCTAssertFalse(text.contains("test_sizes_sum"), "bcc's histograms keep no sum")
    }

    func testATableOfStructsCannotBeACounter() throws {
        try KernelTestGate.require(geteuid() == 0, "not root")
        let configuration = try ExporterConfiguration(
            yaml: """
                programs:
                  - text: |
                      struct pair { u64 a; u64 b; };
                      BPF_HASH(pairs, u32, struct pair);
                      int fill(void *ctx) {
                          u32 key = 1;
                          struct pair value = { 1, 2 };
                          pairs.update(&key, &value);
                          return 0;
                      }
                    attach:
                      - tracepoint: syscalls:sys_enter_getppid
                        function: fill
                    tables:
                      - table: pairs
                        name: test_pairs_total
                """)
        let exporter = try Exporter(configuration)
        defer { exporter.close() }
        _ = getppid()
        XCTAssertThrowsError(try exporter.metricsText()) { error in
            XCTAssertEqual(
                (error as? ExporterError)?.description,
                "reading metric 'test_pairs_total': EBPFError(invalid argument): the values of table 'pairs' are not integers, so metric 'test_pairs_total' cannot be a counter; a table of integers can"
            )
        }
    }
}
