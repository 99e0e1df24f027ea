import Foundation
import XCTest

/// Tests that load BPF programs or start Prometheus skip without root (or without
/// Prometheus) — unless EBPF_REQUIRE_KERNEL_TESTS=1, as in CI, where that is a failure.
enum KernelTestGate {
    static var required: Bool { ProcessInfo.processInfo.environment["EBPF_REQUIRE_KERNEL_TESTS"] == "1" }

    static func require(_ condition: Bool, _ reason: String, file: StaticString = #filePath, line: UInt = #line)
        throws
    {
        guard !condition else { return }
        if required {
            XCTFail("\(reason) (EBPF_REQUIRE_KERNEL_TESTS=1: every test must run)", file: file, line: line)
            throw XCTSkip("failed above")
        }
        throw XCTSkip("kernel test skipped: \(reason)")
    }

    /// Root (to load BPF programs) and Debian's `prometheus`.
    static func requireRootAndPrometheus(file: StaticString = #filePath, line: UInt = #line) throws {
        try require(geteuid() == 0, "not root", file: file, line: line)
        try require(
            FileManager.default.isExecutableFile(atPath: PrometheusServer.executable),
            "no \(PrometheusServer.executable) (apt-get install prometheus)", file: file, line: line)
    }

    /// A built executable of this package, beside the test bundle.
    static func builtProduct(_ name: String) throws -> String {
        let directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        var candidate = directory
        // `swift test` runs the .xctest bundle's path, or a runner inside it.
        while candidate.path != "/" {
            let path = candidate.appendingPathComponent(name).path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
            candidate = candidate.deletingLastPathComponent()
        }
        XCTFail("\(name) is not built beside \(directory.path); run `swift build --package-path Exporter` first")
        throw XCTSkip("failed above")
    }
}
