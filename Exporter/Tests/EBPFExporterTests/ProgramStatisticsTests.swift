import Foundation
import XCTest

/// `--bpf-stats`: the exporter's programs' runs and run time, as ebpf_exporter serves them.
final class ProgramStatisticsTests: XCTestCase {
    /// A child that calls libc's `getsid` `calls` times once a line arrives on its standard
    /// input (``Subprocess/write(_:)``), and exits.
    static func getsidCaller(calls: Int) throws -> Subprocess {
        try Subprocess(
            "/usr/bin/python3",
            ["-c", "import os, sys\nsys.stdin.readline()\nfor _ in range(\(calls)): os.getsid(0)\n"],
            standardInput: true)
    }

    /// A configuration whose program counts process `pid`'s calls of libc's `getsid` (a
    /// uprobe for that process alone) in a table served as `metric`.
    static func getsidCounter(pid: Int32, metric: String) -> String {
        """
        programs:
          - text: |
              BPF_HASH(calls, u32, u64);
              int count_getsid(struct pt_regs *ctx) {
                  calls.increment((u32)0);
                  return 0;
              }
            attach:
              - uprobe: c:getsid?pid=\(pid)
                function: count_getsid
            tables:
              - table: calls
                name: \(metric)
        """
    }

    /// A program of the test's own on a uprobe of libc's `getsid` for one child only: the
    /// exporter counts one program, and its run count goes from 0 to exactly the number of
    /// calls the child makes, as does the program's own count in its table.
    func testRunCountRisesByExactlyTheCallsAChildMakes() throws {
        try KernelTestGate.require(geteuid() == 0, "not root")
        let calls = 41
        let child = try Self.getsidCaller(calls: calls)
        let exporter = try ExporterProcess(
            configuration: Self.getsidCounter(pid: child.pid, metric: "stats_getsid_calls_total"),
            arguments: ["--bpf-stats"])
        defer { XCTAssertEqual(exporter.stop(), 0) }
        func sample(_ name: String) throws -> String? {
            let page = try LoopbackConnection.get("/metrics", port: exporter.port)
            return page.split(separator: "\n").first { $0.hasPrefix(name) && !$0.hasPrefix("#") }.map {
                String($0.split(separator: " ").last ?? "")
            }
        }
        XCTAssertEqual(try sample("ebpf_exporter_programs_attached"), "1")
        XCTAssertEqual(try sample("ebpf_program_run_count_total{"), "0")
        XCTAssertEqual(try sample("ebpf_program_run_time_seconds{"), "0.0")

        child.write("go\n")
        XCTAssertEqual(child.wait(), 0, child.collectedOutput)
        XCTAssertEqual(try sample("ebpf_program_run_count_total{"), "\(calls)")
        XCTAssertEqual(try sample("stats_getsid_calls_total{"), "\(calls)", "what the program counted itself")
        let page = try LoopbackConnection.get("/metrics", port: exporter.port)
        XCTAssertTrue(page.contains("ebpf_program_run_count_total{id=\""), page)
        XCTAssertTrue(page.contains("\",name=\"count_getsid\"} \(calls)\n"), page)
        let seconds = try XCTUnwrap(Double(try sample("ebpf_program_run_time_seconds{") ?? ""))
        XCTAssertGreaterThan(seconds, 0)
    }
}
