import EBPF
import Foundation
import XCTest

/// USDT probes of a fixture built in the test (Fixtures/usdt): listed by path and by pid,
/// attached by native C with `bpf_usdt_readarg`, with and without a semaphore.
final class USDTTests: XCTestCase {
    /// The two probes, their arguments as `<sys/sdt.h>` noted them, and their sites at the
    /// addresses binutils' `readelf -n` reads from the same notes.
    func testProbesOfABinaryAndOfAProcess() throws {
        try requireKernel()
        let path = try USDTFixture.path.get()
        let probes = try EBPFWrapper.usdtProbes(in: path).sorted { $0.name < $1.name }
        XCTAssertEqual(probes.map(\.description), ["ebpftest:gated", "ebpftest:plain"])
        XCTAssertEqual(probes.map(\.binaryPath), [path, path])
        let gated = probes[0]
        let plain = probes[1]
        XCTAssertEqual(plain.arguments.map(\.size), [4, 8, 8])
        XCTAssertEqual(plain.arguments.map(\.isSigned), [true, true, false])
        XCTAssertEqual(gated.arguments.map(\.size), [4, 4])
        XCTAssertEqual(gated.arguments.map(\.isSigned), [true, true])
        XCTAssertFalse(plain.hasSemaphore)
        XCTAssertTrue(gated.hasSemaphore)

        let notes = try readelfNotes(path)
        XCTAssertEqual(plain.addresses, [try XCTUnwrap(notes["plain"]?.location)])
        XCTAssertEqual(gated.addresses, [try XCTUnwrap(notes["gated"]?.location)])
        // The notes name a register by its width (%ebx, %rbp); struct pt_regs by its number (bx, bp).
        func registerNamed(_ note: String) -> String {
            note.replacingOccurrences(
                of: "%[er](ax|bx|cx|dx|si|di|bp|sp|ip)", with: "%$1", options: .regularExpression
            ).replacingOccurrences(of: "%(r[0-9]+)[dwb]", with: "%$1", options: .regularExpression)
        }
        XCTAssertEqual(plain.arguments.map(\.description), notes["plain"]?.arguments.map(registerNamed))
        XCTAssertEqual(gated.arguments.map(\.description), notes["gated"]?.arguments.map(registerNamed))

        let fixture = try USDTFixture()
        defer { fixture.stop() }
        let ofProcess = try EBPFWrapper.usdtProbes(pid: fixture.pid).filter { $0.provider == "ebpftest" }
        XCTAssertEqual(Set(ofProcess.map(\.description)), ["ebpftest:gated", "ebpftest:plain"])
        XCTAssertEqual(Set(ofProcess.map(\.addresses)), [plain.addresses, gated.addresses])
    }

    /// By path: both probes' arguments, exact, for every round while attached; the gated
    /// probe fires only while attached (its semaphore raised by the kernel), and the
    /// semaphore is back to 0 after `close()`.
    func testNativeProgramReadsTheArgumentsOfEveryProcessRunningTheBinary() throws {
        try requireKernel()
        let fixture = try USDTFixture()
        defer { fixture.stop() }
        XCTAssertEqual(fixture.fire(), 0, "no semaphore raised before attaching")
        let path = try USDTFixture.path.get()
        let b = try EBPFWrapper(
            text: Self.program,
            usdt: [
                USDTFunction(probe: "ebpftest:plain", in: path, fnName: "on_plain"),
                USDTFunction(probe: "gated", in: path, fnName: "on_gated"),
            ])
        XCTAssertEqual(b.attachments.map(\.kind), [.usdt, .usdt])
        XCTAssertEqual(b.attachments.map(\.target), ["\(path):ebpftest:plain", "\(path):ebpftest:gated"])
        for _ in 2...4 { XCTAssertEqual(fixture.fire(), 1, "the kernel raised the semaphore") }
        try assertRounds(2...4, of: b)
        b.close()
        XCTAssertEqual(fixture.fire(), 0, "the semaphore is lowered again on detach")
    }

    /// By pid alone: the probes of whatever the process maps; another process running the
    /// same binary is not traced, nor is its semaphore raised.
    func testNativeProgramByProcess() throws {
        try requireKernel()
        let fixture = try USDTFixture()
        defer { fixture.stop() }
        let other = try USDTFixture()
        defer { other.stop() }
        let b = try EBPFWrapper(
            text: Self.program,
            usdt: [
                USDTFunction(probe: "ebpftest:plain", fnName: "on_plain", pid: fixture.pid),
                USDTFunction(probe: "ebpftest:gated", fnName: "on_gated", pid: fixture.pid),
            ])
        defer { b.close() }
        XCTAssertEqual(other.fire(), 0, "only the traced process's semaphore is raised")
        XCTAssertEqual(fixture.fire(), 1)
        XCTAssertEqual(fixture.fire(), 1)
        try assertRounds(1...2, of: b)
    }

    func testMistakesAreReportedWithWhatThereIs() throws {
        try requireKernel()
        let path = try USDTFixture.path.get()
        func error(_ function: USDTFunction) -> EBPFError? {
            do {
                _ = try EBPFWrapper(text: Self.program, usdt: [function])
                return nil
            } catch {
                return error
            }
        }
        let missing = error(USDTFunction(probe: "ebpftest:absent", in: path, fnName: "on_plain"))
        XCTAssertEqual(missing?.code, .notFound)
        XCTAssertEqual(
            missing?.message, "no USDT probe ebpftest:absent in \(path); it has ebpftest:gated, ebpftest:plain")
        XCTAssertEqual(error(USDTFunction(probe: "a:b:c", in: path, fnName: "on_plain"))?.code, .invalidArgument)
        XCTAssertEqual(error(USDTFunction(probe: "ebpftest:plain", fnName: "on_plain"))?.code, .invalidArgument)
        XCTAssertEqual(error(USDTFunction(probe: "plain;", in: path, fnName: "on_plain"))?.code, .invalidArgument)
        XCTAssertEqual(error(USDTFunction(probe: "plain", in: path, fnName: "on plain"))?.code, .invalidArgument)
        XCTAssertEqual(error(USDTFunction(probe: "plain", in: "/nonexistent/x", fnName: "on_plain"))?.code, .notFound)
        XCTAssertEqual(error(USDTFunction(probe: "plain", fnName: "on_plain", pid: -4))?.code, .invalidArgument)
    }

    /// Keeps each probe's arguments by round: `plain` round → arg 2, the first 8 bytes of
    /// the string arg 3 points to; `gated` round → arg 2.
    static let program = """
        BPF_HASH(plain, s32, s64, 64);
        BPF_HASH(words, s32, u64, 64);
        BPF_HASH(gated, s32, s32, 64);
        int on_plain(struct pt_regs *ctx) {
            s32 round = 0;
            s64 scaled = 0;
            u64 word = 0;
            bpf_usdt_readarg(1, ctx, &round);
            bpf_usdt_readarg(2, ctx, &scaled);
            bpf_usdt_readarg_p(3, ctx, &word, sizeof(word));
            plain.update(&round, &scaled);
            words.update(&round, &word);
            return 0;
        }
        int on_gated(struct pt_regs *ctx) {
            s32 round = 0, seventh = 0;
            bpf_usdt_readarg(1, ctx, &round);
            bpf_usdt_readarg(2, ctx, &seventh);
            gated.update(&round, &seventh);
            return 0;
        }
        """

    private func assertRounds(_ rounds: ClosedRange<Int>, of b: EBPFWrapper, line: UInt = #line) throws {
        let plain = try b.table("plain", key: Int32.self, value: Int64.self)
        let words = try b.table("words", key: Int32.self, value: UInt64.self)
        let gated = try b.table("gated", key: Int32.self, value: Int32.self)
        for round in rounds {
            let key = Int32(round)
            XCTAssertEqual(try plain[key], Int64(round) * -1000, "round \(round)", line: line)
            let word = try words[key].map { value in
                withUnsafeBytes(of: value) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            }
            XCTAssertEqual(word, round % 2 == 1 ? "odd" : "even", line: line)
            XCTAssertEqual(try gated[key], Int32(round * 7), line: line)
        }
        XCTAssertEqual(try b.table("plain").items().count, rounds.count, "no other rounds", line: line)
        XCTAssertEqual(try b.table("gated").items().count, rounds.count, line: line)
    }

    /// `readelf -n`'s view of the fixture's probes: each one's site and argument notes.
    private func readelfNotes(_ path: String) throws -> [String: (location: UInt64, arguments: [String])] {
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
