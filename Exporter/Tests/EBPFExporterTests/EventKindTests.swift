import Foundation
import XCTest

/// Aggregations on each kind of event the library generates programs for, in the exporter's
/// one attach-point grammar, each counting exactly what a child does.
final class EventKindTests: XCTestCase {
    /// A child calls getsid N times: a syscall's entry and exit, its tracepoint, a uprobe and
    /// a uretprobe of libc's getsid, and a uprobe's latency each count exactly N for it.
    func testEachKindOfEventCountsExactlyTheChildsCalls() throws {
        try KernelTestGate.require(geteuid() == 0, "not root")
        let calls = 29
        let child = try ProgramStatisticsTests.getsidCaller(calls: calls)
        let points = [
            "syscall:getsid", "syscall_exit:getsid", "tracepoint:syscalls:sys_enter_getsid", "uprobe:c:getsid",
            "uretprobe:c:getsid",
        ]
        let counts = points.enumerated().map { index, point in
            """
              - name: kind_\(index)_total
                count: \(point)
                filter: { pid: \(child.pid) }
            """
        }
        let exporter = try ExporterProcess(
            configuration: "metrics:\n" + counts.joined(separator: "\n") + """

                  - name: kind_getsid_seconds
                    latency: uprobe:c:getsid
                    filter: { pid: \(child.pid) }
                """)
        defer { XCTAssertEqual(exporter.stop(), 0) }

        child.write("go\n")
        XCTAssertEqual(child.wait(), 0, child.collectedOutput)
        let page = try LoopbackConnection.get("/metrics", port: exporter.port)
        for (index, point) in points.enumerated() {
            XCTAssertTrue(page.contains("\nkind_\(index)_total \(calls)\n"), "\(point): \(page)")
        }
        XCTAssertTrue(page.contains("\nkind_getsid_seconds_count \(calls)\n"), page)
    }
}
