import Foundation
import XCTest

/// The map examples, run as a user runs them, against work this test does itself.
final class ExampleTests: XCTestCase {
    func testSyscountCountsAKnownNumberOfCallsExactly() throws {
        try requireKernel()
        let output = try runExample("syscount", ["--syscall", "getppid", "--top", "100", "3"], ready: "Counting") {
            for _ in 0..<777 { _ = getppid() }
        }
        let ours = output.split(separator: "\n").filter { $0.hasPrefix("\(getpid()) ") }
        XCTAssertFalse(ours.isEmpty, output)
        let total = ours.compactMap { $0.split(separator: " ").last.flatMap { Int($0) } }.reduce(0, +)
        XCTAssertEqual(total, 777, output)
        XCTAssertTrue(ours.allSatisfy { $0.contains(ThisProcess.comm) }, "the kernel recorded our name: \(ours)")
    }

    func testReadLatencyPlacesA50msReadInItsBucket() throws {
        try requireKernel()
        let output = try runExample("readlatency", ["2"], ready: "Tracing") {
            var fds: [Int32] = [0, 0]
            XCTAssertEqual(pipe(&fds), 0)
            let writeEnd = fds[1]
            let writer = Thread {
                usleep(50_000)
                var byte: UInt8 = 1
                _ = write(writeEnd, &byte, 1)
            }
            writer.start()
            var byte: UInt8 = 0
            XCTAssertEqual(read(fds[0], &byte, 1), 1, "blocked about 50 ms")
            close(fds[0])
            close(fds[1])
        }
        XCTAssertTrue(output.contains("     usecs               : count     distribution"), output)
        let bucket = try XCTUnwrap(output.split(separator: "\n").first { $0.contains("32768 -> 65535") }, output)
        let count = bucket.split(separator: ":")[1].split(separator: "|")[0].trimmingCharacters(in: .whitespaces)
        XCTAssertGreaterThanOrEqual(Int(count) ?? 0, 1, String(bucket))
    }

    func testProfileFoldsTheStackOfASpinningThread() throws {
        try requireKernel()
        let output = try runExample("profile", ["2"], ready: "Sampling") {
            let spinner = Thread {
                try? "ebpf-spinner".write(toFile: "/proc/thread-self/comm", atomically: false, encoding: .utf8)
                ebpfTestSpinner(1_500)
            }
            spinner.start()
        }
        let lines = output.split(separator: "\n").filter { $0.hasPrefix("ebpf-spinner;") }
        let samples = lines.compactMap { $0.split(separator: " ").last.flatMap { Int($0) } }.reduce(0, +)
        XCTAssertGreaterThanOrEqual(samples, 25, "1.5 s on CPU at 49 Hz, about 73 samples: \(output)")
        // Swift frames arrive demangled. A sample taken while the spinner reads the clock may
        // lose its frame (see ebpfTestSpinner); nearly all are taken in its own loop.
        let spinning = lines.filter { $0.contains(";EBPFTests.ebpfTestSpinner(Swift.Int32) -> ()") }
        XCTAssertFalse(spinning.isEmpty, "\(lines)")
        for line in spinning {
            let caller = try XCTUnwrap(line.range(of: "Foundation.Thread.main()"), String(line))
            let callee = try XCTUnwrap(line.range(of: "ebpfTestSpinner"), String(line))
            XCTAssertLessThan(caller.lowerBound, callee.lowerBound, "outermost frame first: \(line)")
        }
    }
}

/// Burns CPU for `milliseconds` in a function whose name the profiler must find.
///
/// Nearly all of its time goes to arithmetic on locals, with no call and no memory access
/// that ThreadSanitizer instruments, so a sample almost always lands in this frame itself,
/// whose frame pointer leads to its callers. It reads the clock only every 2^20 rounds: a
/// sample inside the clock's code (the vDSO, or ThreadSanitizer's interceptor and `__tsan_*`
/// functions, which keep no frame pointer) loses this frame from the stack.
@_cdecl("ebpf_test_spinner")
@inline(never)
func ebpfTestSpinner(_ milliseconds: Int32) {
    let end = ContinuousClock.now + .milliseconds(Int(milliseconds))
    var spin: UInt64 = 0
    repeat {
        // A while loop over transparent integer operators: no call even at -Onone.
        var round = 0
        while round < 1 << 20 {
            spin = spin &* 6364136223846793005 &+ 1442695040888963407
            round &+= 1
        }
    } while ContinuousClock.now < end
    if spin == 42 { print("unlikely") }
}
