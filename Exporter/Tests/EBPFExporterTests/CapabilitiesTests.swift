import Foundation
import XCTest

/// The exporter gives up root's capabilities once its programs are attached.
final class CapabilitiesTests: XCTestCase {
    static let capBPF: UInt64 = 1 << 39

    /// The `CapEff`, `CapBnd` and `NoNewPrivs` of every thread of process `pid`.
    private func threads(of pid: Int32) throws -> [(effective: UInt64, bounding: UInt64, noNewPrivileges: String)] {
        try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task").compactMap { tid in
            guard let status = try? String(contentsOfFile: "/proc/\(pid)/task/\(tid)/status", encoding: .utf8)
            else { return nil }
            func field(_ name: String) -> String {
                status.split(separator: "\n").first { $0.hasPrefix(name + ":") }.map {
                    $0.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces)
                } ?? ""
            }
            return (
                UInt64(field("CapEff"), radix: 16) ?? 0, UInt64(field("CapBnd"), radix: 16) ?? 0, field("NoNewPrivs")
            )
        }
    }

    /// Every thread (the HTTP server's among them) keeps CAP_BPF alone, in its effective and
    /// bounding sets, with no_new_privs set; scrapes still read the maps (a uprobe program's
    /// count of a child's calls), and SIGTERM still detaches everything and exits cleanly.
    func testEveryThreadKeepsOnlyCAPBPFAndTheExporterStillScrapesAndCleansUp() throws {
        try KernelTestGate.require(geteuid() == 0, "not root")
        let calls = 13
        let child = try ProgramStatisticsTests.getsidCaller(calls: calls)
        let exporter = try ExporterProcess(
            configuration: ProgramStatisticsTests.getsidCounter(pid: child.pid, metric: "caps_getsid_calls_total"))
        let pid = exporter.process.pid
        XCTAssertTrue(try LoopbackConnection.get("/metrics", port: exporter.port).hasPrefix("HTTP/1.1 200 OK"))
        let states = try threads(of: pid)
        XCTAssertGreaterThan(states.count, 1, "the server's threads too")
        for state in states {
            XCTAssertEqual(state.effective, Self.capBPF, "effective: CAP_BPF alone")
            XCTAssertEqual(state.bounding, Self.capBPF, "bounding: CAP_BPF alone")
            XCTAssertEqual(state.noNewPrivileges, "1")
        }

        child.write("go\n")
        XCTAssertEqual(child.wait(), 0, child.collectedOutput)
        let page = try LoopbackConnection.get("/metrics", port: exporter.port)
        XCTAssertTrue(page.contains("caps_getsid_calls_total{key=\"0\"} \(calls)\n"), page)

        XCTAssertEqual(exporter.stop(), 0, "SIGTERM still detaches and exits cleanly")
    }

    /// `--keep-capabilities`: the exporter serves with root's.
    func testKeepCapabilitiesKeepsThem() throws {
        try KernelTestGate.require(geteuid() == 0, "not root")
        let exporter = try ExporterProcess(
            configuration: WebSecurityTests.configuration, arguments: ["--keep-capabilities"])
        defer { XCTAssertEqual(exporter.stop(), 0) }
        let own = try threads(of: getpid()).first?.effective
        for state in try threads(of: exporter.process.pid) {
            XCTAssertEqual(state.effective, own, "the test's own (root's)")
        }
    }
}
