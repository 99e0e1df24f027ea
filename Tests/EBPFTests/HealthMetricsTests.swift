import CoreMetrics
@_spi(Generator) @testable import EBPF
import Foundation
import MetricsTestKit
import XCTest

/// The library's health through swift-metrics: what each buffer (each closure probe)
/// received, as counters any backend bootstrapped by the program collects.
final class HealthMetricsTests: XCTestCase {
    /// swift-metrics takes one bootstrap per process: this suite's recording backend.
    static let metrics: TestMetrics = {
        let metrics = TestMetrics()
        MetricsSystem.bootstrap(metrics)
        return metrics
    }()

    /// The counter's total once it reaches `expected`, or what it holds after `eventTimeout`.
    private func total(_ label: String, _ dimensions: [(String, String)], reaching expected: Int64) -> Int64? {
        let deadline = ContinuousClock.now + eventTimeout
        var total: Int64?
        repeat {
            total = try? Self.metrics.expectCounter(label, dimensions).totalValue
            if total == expected { break }
            usleep(10_000)
        } while ContinuousClock.now < deadline
        return total
    }

    func testAClosureProbeCountsItsEventsAsReceivedUnderItsEventName() throws {
        try requireKernel()
        _ = Self.metrics
        let b = try EBPFWrapper()
        defer { b.close() }
        let probe = try b.attach(.syscall("getpriority"), filter: ourThread) { _ in }
        for _ in 0..<25 { _ = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0) }

        XCTAssertEqual(
            total("ebpf_events_received_total", [("probe", "syscalls:sys_enter_getpriority")], reaching: 25), 25)
        XCTAssertEqual(probe.receivedCount, 25)
        XCTAssertEqual(
            try Self.metrics.expectCounter("ebpf_events_lost_total", [("probe", "syscalls:sys_enter_getpriority")])
                .totalValue, 0, "created with the buffer, never incremented")
    }

    func testANativeBufferCountsWhatItReceivedUnderItsTableName() throws {
        try requireKernel()
        _ = Self.metrics
        let b = try EBPFWrapper(
            text: """
                BPF_PERF_OUTPUT(health_events);
                TRACEPOINT_PROBE(syscalls, sys_enter_getpriority) {
                    if ((bpf_get_current_pid_tgid() >> 32) != TARGET_PID) return 0;
                    u64 one = 1;
                    health_events.perf_submit(args, &one, sizeof(one));
                    return 0;
                }
                """, cflags: ["-DTARGET_PID=\(ThisProcess.pid)"])
        defer { b.close() }
        try b.attachTracepoint(
            tp: "syscalls:sys_enter_getpriority", fnName: "tracepoint__syscalls__sys_enter_getpriority")
        let buffer = try b.table("health_events").openPerfBuffer(as: UInt64.self) { _ in }
        for _ in 0..<40 { _ = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0) }

        XCTAssertEqual(total("ebpf_events_received_total", [("buffer", "health_events")], reaching: 40), 40)
        XCTAssertEqual(buffer.receivedCount, 40)
    }
}
