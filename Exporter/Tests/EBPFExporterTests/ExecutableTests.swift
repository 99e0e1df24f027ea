import Foundation
import XCTest

/// `ebpf-exporter` refusing what it cannot serve, before serving anything.
final class ExecutableTests: XCTestCase {
    private func run(configuration yaml: String) throws -> (status: Int32, output: String, file: String) {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("bad-\(UUID().uuidString).yaml")
        try yaml.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let process = try Subprocess(
            try KernelTestGate.builtProduct("ebpf-exporter"), ["--config", file.path, "--listen", "127.0.0.1:0"])
        let status = process.wait()
        return (status, process.collectedOutput, file.path)
    }

    func testABadConfigurationFileStopsItWithTheLineOfTheMistake() throws {
        let (status, output, file) = try run(
            configuration: "metrics:\n  - name: opens_total\n    count: probe:openat\n")
        XCTAssertNotEqual(status, 0)
        XCTAssertTrue(
            output.contains(
                "\(file):3:12: \"probe:openat\" is not an attach point: 'probe' is not a kind of attach point; write KIND:…, the kinds being tracepoint, syscall, syscall_exit, rawtracepoint, kprobe, kretprobe, fentry, fexit, uprobe, uretprobe, usdt, software, hardware, perf, profile, watchpoint, lsm, xdp, tc and cgroup"
            ),
            output)
        XCTAssertFalse(output.contains("serving"), output)
    }

    func testAnEventTheKernelLacksStopsItNamingTheMetric() throws {
        try KernelTestGate.require(geteuid() == 0, "not root")
        let (status, output, _) = try run(
            configuration: """
                metrics:
                  - name: opens_total
                    count: syscall:openat
                  - name: nothing_total
                    count: syscall:no_such_syscall
                """)
        XCTAssertNotEqual(status, 0)
        XCTAssertTrue(output.contains("metric 'nothing_total' (syscall:no_such_syscall): "), output)
        XCTAssertFalse(output.contains("serving"), output)
    }
}
