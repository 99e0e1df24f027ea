@_spi(Generator) @testable import EBPF
import Foundation
import Synchronization
import XCTest

/// libbcc writes its diagnostics to the process's fd 1 and 2, so the library redirects both
/// during a compile or load, and whatever another thread writes then is captured too. It must
/// be written back out, never lost. The test runs this test binary again (EBPF_TEST_WRITER_CHILD=1)
/// as a program whose second thread writes numbered lines throughout its compiles, and reads
/// that child's real stdout.
final class OutputCaptureTests: XCTestCase {
    static let childRole = "EBPF_TEST_WRITER_CHILD"
    static let testName = "EBPFTests.OutputCaptureTests/testOtherThreadsOutputDuringCompilesIsNeverLost"

    func testOtherThreadsOutputDuringCompilesIsNeverLost() throws {
        try requireKernel()
        if ProcessInfo.processInfo.environment[Self.childRole] == "1" {
            return try Self.runAsWriter()
        }
        let child = try ChildProcess(
            try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"), [Self.testName],
            environment: [Self.childRole: "1"])
        XCTAssertEqual(child.wait(), .exited(0), child.standardError)
        let output = child.standardOutput
        let lines = output.split(separator: "\n")
        let numbers = lines.filter { $0.hasPrefix("OUTPUT-LINE ") }.compactMap { Int($0.dropFirst(12)) }
        let summary = try XCTUnwrap(lines.last { $0.hasPrefix("WRITTEN ") }, output)
        let fields = summary.split(separator: " ").compactMap { Int($0) }
        XCTAssertEqual(fields.count, 2, String(summary))
        let (written, duringWindows) = (fields[0], fields[1])
        XCTAssertGreaterThan(duringWindows, 0, "the writer wrote while a compile's capture was on")
        let missing = Set(0..<written).subtracting(numbers).sorted()
        let repeated = numbers.count - Set(numbers).count
        XCTAssertEqual(missing, [], "lines never arrived (of \(written); \(repeated) repeated)")
        XCTAssertEqual(repeated, 0, "lines arrived twice")
        XCTAssertEqual(numbers.count, written, "every line arrives exactly once")
    }

    /// The child: a thread writes numbered lines with write(2) every 100 µs while this thread
    /// compiles a program that fails and one that loads.
    static func runAsWriter() throws {
        let stop = Atomic<Bool>(false)
        let written = Atomic<Int>(0)
        let finished = DispatchSemaphore(value: 0)
        Thread {
            var count = 0
            while !stop.load(ordering: .acquiring) {
                var line = "OUTPUT-LINE \(count)\n"
                line.withUTF8 { _ = write(STDOUT_FILENO, $0.baseAddress, $0.count) }
                count += 1
                written.store(count, ordering: .releasing)
                usleep(100)
            }
            finished.signal()
        }.start()
        while written.load(ordering: .acquiring) == 0 { usleep(100) }
        var duringWindows = 0
        for _ in 0..<20 where duringWindows == 0 {
            let before = written.load(ordering: .acquiring)
            XCTAssertThrowsError(try EBPFWrapper(text: "int broken( {")) { error in
                XCTAssertEqual((error as? EBPFError)?.code, .compilationFailed)
                XCTAssertTrue((error as? EBPFError)?.diagnostics?.contains("error:") ?? false)
            }
            let b = try EBPFWrapper(text: "int fine(void *ctx) { return 0; }")
            _ = try b.loadFunction("fine", type: .tracepoint)
            b.close()
            duringWindows += written.load(ordering: .acquiring) - before
        }
        stop.store(true, ordering: .releasing)
        XCTAssertEqual(finished.wait(timeout: .now() + 60), .success, "the writer thread stops")
        var summary = "WRITTEN \(written.load(ordering: .acquiring)) \(duringWindows)\n"
        summary.withUTF8 { _ = write(STDOUT_FILENO, $0.baseAddress, $0.count) }
    }
}
