import EBPF
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The kernel's run-time statistics of this process's programs, while a recording is on.
final class ProgramStatisticsTests: XCTestCase {
    /// A uprobe on libc's `getsid`, for this process only, runs once per call: with
    /// statistics on, its run count rises by exactly the number of calls the test makes.
    func testRunCountRisesByExactlyTheCallsMadeWhileRecording() throws {
        try requireKernel()
        let recording = try ProgramStatistics.Recording()
        defer { recording.close() }
        let b = try EBPFWrapper(text: "int on_getsid_call(struct pt_regs *ctx) { return 0; }")
        defer { b.close() }
        try b.attach(function: "on_getsid_call", to: .uprobe("getsid", in: "c", pid: ThisProcess.pid))
        func program() throws -> ProgramStatistics {
            let matching = ProgramStatistics.ofThisProcess().filter { $0.name == "on_getsid_call" }
            XCTAssertEqual(matching.count, 1, "one program, however many descriptors hold it")
            return try XCTUnwrap(matching.first)
        }
        let before = try program()
        XCTAssertEqual(before.type, .kprobe)
        XCTAssertEqual(before.tag.count, 16, "8 bytes in hex")
        XCTAssertTrue(before.tag.allSatisfy(\.isHexDigit), before.tag)

        let calls = 37
        for _ in 0..<calls { _ = getsid(0) }
        let after = try program()
        XCTAssertEqual(after.id, before.id)
        XCTAssertEqual(after.runCount - before.runCount, UInt64(calls))
        XCTAssertGreaterThan(after.runTime, before.runTime)

        b.close()
        XCTAssertFalse(
            ProgramStatistics.ofThisProcess().contains { $0.id == before.id }, "closed with its wrapper")
    }

    func testARecordingClosesOnce() throws {
        try requireKernel()
        let recording = try ProgramStatistics.Recording()
        XCTAssertTrue(recording.isOpen)
        recording.close()
        recording.close()
        XCTAssertFalse(recording.isOpen)
    }
}
