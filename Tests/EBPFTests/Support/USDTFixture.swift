import Foundation
import XCTest

/// The C program of Fixtures/usdt, built once per test run with the host's compiler and
/// `<sys/sdt.h>` (systemtap-sdt-dev), and run as a child that fires its USDT probes on
/// SIGUSR1: `ebpftest:plain (round, round × -1000, "odd"/"even")` and, while its semaphore
/// is raised, `ebpftest:gated (round, round × 7)`, and `ebpftest:kinds (round, -5, round × 5,
/// round × {3, 5, 7, 11}[round % 4])` from a register, a constant and memory.
final class USDTFixture {
    /// The executable, built on first use.
    static let path: Result<String, Error> = Result {
        let sources = try XCTUnwrap(
            Bundle.module.url(forResource: "usdt", withExtension: nil, subdirectory: "Fixtures"))
        let directory = "/tmp/ebpf-usdt-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        let output = directory + "/usdt-fixture"
        let compiler = try ChildProcess(
            "/usr/bin/cc", ["-O1", "-o", output] + ["main.c", "gated.c", "kinds.c"].map { sources.path + "/" + $0 },
            mergeOutput: true)
        guard compiler.wait() == .exited(0) else {
            throw POSIXError(.ENOEXEC, userInfo: [NSLocalizedDescriptionKey: compiler.standardOutput])
        }
        return output
    }

    let process: ChildProcess
    private(set) var round = 0

    init() throws {
        process = try ChildProcess(try Self.path.get(), [])
        XCTAssertTrue(
            process.waitForOutput("ready \(process.pid)\n", timeout: childReadyTimeout), process.standardOutput)
    }

    var pid: Int32 { process.pid }

    /// Makes the fixture fire its probes once; returns the value its gated probe's semaphore
    /// had then.
    @discardableResult
    func fire() -> Int? {
        round += 1
        process.signal(SIGUSR1)
        let prefix = "fired \(round) semaphore "
        // Complete once the line's newline is there.
        let complete = pollUntil(timeout: eventTimeout) {
            process.standardOutput.range(of: prefix + "[0-9]+\n", options: .regularExpression) != nil
        }
        guard complete else { return nil }
        let line = process.standardOutput.split(separator: "\n").first { $0.hasPrefix(prefix) } ?? ""
        return Int(line.dropFirst(prefix.count))
    }

    func stop() {
        process.signal(SIGTERM)
        XCTAssertEqual(process.wait(), .exited(0))
    }

    /// A note's register as the library names it: the notes name a register by its width
    /// (%ebx, %rbp), struct pt_regs by its number (bx, bp).
    static func registerNamed(_ note: String) -> String {
        note.replacingOccurrences(
            of: "%[er](ax|bx|cx|dx|si|di|bp|sp|ip)", with: "%$1", options: .regularExpression
        ).replacingOccurrences(of: "%(r[0-9]+)[dwb]", with: "%$1", options: .regularExpression)
    }

    /// `readelf -n`'s view of the fixture's probes: each one's site and argument notes.
    static func notes(_ path: String) throws -> [String: (location: UInt64, arguments: [String])] {
        let readelf = try ChildProcess("/usr/bin/readelf", ["-n", path])
        XCTAssertEqual(readelf.wait(), .exited(0))
        var notes: [String: (UInt64, [String])] = [:]
        var name = ""
        var location: UInt64 = 0
        for line in readelf.standardOutput.split(separator: "\n").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            if line.hasPrefix("Name: ") { name = String(line.dropFirst(6)) }
            if line.hasPrefix("Location: 0x") {
                location = UInt64(line.dropFirst(12).prefix { $0 != "," }, radix: 16) ?? 0
            }
            if line.hasPrefix("Arguments: ") {
                notes[name] = (location, line.dropFirst(11).split(separator: " ").map(String.init))
            }
        }
        return notes
    }
}
