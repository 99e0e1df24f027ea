import Foundation
import XCTest

/// The map examples, run as a user runs them, against work this test does itself.
final class ExampleTests: XCTestCase {
    func testSyscountCountsAKnownNumberOfCallsExactly() throws {
        try requireKernel()
        let output = try runExample("syscount", ["--syscall", "getppid", "--top", "100", "600"], ready: "Counting") {
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
        var took = Duration.zero
        let output = try runExample("readlatency", ["600"], ready: "Tracing") {
            var fds: [Int32] = [0, 0]
            XCTAssertEqual(pipe(&fds), 0)
            let (readEnd, writeEnd) = (fds[0], fds[1])
            let reader = ThisProcess.tid
            // The 50 ms begin once the reader is blocked in read(): past its entry tracepoint,
            // however late a busy machine runs either thread.
            let writer = Thread {
                XCTAssertTrue(
                    pollUntil(timeout: eventTimeout) { Self.isBlockedInRead(thread: reader, fd: readEnd) },
                    "the reader never blocked in read()")
                usleep(50_000)
                var byte: UInt8 = 1
                _ = write(writeEnd, &byte, 1)
            }
            writer.start()
            var byte: UInt8 = 0
            let start = ContinuousClock.now
            XCTAssertEqual(read(readEnd, &byte, 1), 1, "blocked at least 50 ms")
            took = ContinuousClock.now - start
            close(readEnd)
            close(writeEnd)
        }
        XCTAssertTrue(output.contains("     usecs               : count     distribution"), output)
        // The kernel's time, from the read's entry to its exit, is at least the writer's 50 ms
        // and at most what this thread measured around the call: its bucket is between
        // 32768 -> 65535 and the one that holds the measured time.
        let measured = Int(took / .microseconds(1))
        let buckets = output.split(separator: "\n").compactMap { line -> (low: Int, count: Int)? in
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { return nil }
            let bounds = parts[0].split(separator: "->").map { $0.trimmingCharacters(in: .whitespaces) }
            let count = parts[1].split(separator: "|").first?.trimmingCharacters(in: .whitespaces) ?? ""
            guard bounds.count == 2, let low = Int(bounds[0]), let count = Int(count) else { return nil }
            return (low, count)
        }
        XCTAssertTrue(buckets.contains { $0.low == 32768 }, output)
        let ours = buckets.filter { $0.low >= 32768 && $0.low <= measured }.map(\.count).reduce(0, +)
        XCTAssertGreaterThanOrEqual(ours, 1, "a read of \(measured) µs: \(output)")
    }

    /// Whether thread `thread` of this process is blocked in read(2) of `fd`: its
    /// /proc/…/syscall shows the call's number and first argument only while it sleeps
    /// inside the call ("running" while it runs).
    static func isBlockedInRead(thread: Int32, fd: Int32) -> Bool {
        let text = KernelFiles.read("/proc/self/task/\(thread)/syscall") ?? ""
        let fields = text.split(separator: " ")
        return fields.count > 1 && fields[0] == "\(SyscallNumber.read)" && fields[1] == "0x\(String(fd, radix: 16))"
    }

    func testProfileFoldsTheStackOfASpinningThread() throws {
        try requireKernel()
        let profiler = try ChildProcess(try builtExample("profile").path, ["2"], mergeOutput: true)
        XCTAssertTrue(profiler.waitForOutput("Sampling", timeout: childReadyTimeout), profiler.standardOutput)
        // The profiler samples from before it says so until its 2 s sleep ends; the spinner
        // counts only CPU time it had while it saw that sleep still going on. The samples
        // follow that CPU time, which a busy machine gives the spinner only a share of.
        let inWindow = Locked<Duration?>(nil)
        let spinnerDone = DispatchSemaphore(value: 0)
        Thread { [pid = profiler.pid] in
            defer { spinnerDone.signal() }
            try? "ebpf-spinner".write(toFile: "/proc/thread-self/comm", atomically: false, encoding: .utf8)
            guard pollUntil(timeout: eventTimeout, { isInClockNanosleep(process: pid) }) else { return }
            let nanoseconds = ebpfTestSpinner(1_500, whileSleeping: pid)
            inWindow.withLock { $0 = .nanoseconds(nanoseconds) }
        }.start()
        XCTAssertEqual(profiler.wait(), .exited(0), profiler.standardOutput)
        XCTAssertEqual(spinnerDone.wait(timeout: .now() + 60), .success, "the spinner stops")
        let output = profiler.standardOutput
        let cpu = try XCTUnwrap(inWindow.withLock { $0 }, "the spinner never saw the profiler sleep: \(output)")
        let lines = output.split(separator: "\n").filter { $0.hasPrefix("ebpf-spinner;") }
        let samples = lines.compactMap { $0.split(separator: " ").last.flatMap { Int($0) } }.reduce(0, +)
        // At 49 Hz, a third of the samples its CPU time brings, and at least one: 25 of about
        // 73 for 1.5 s on CPU.
        let expected = cpu / .seconds(1) * 49
        XCTAssertGreaterThanOrEqual(
            samples, max(1, Int(expected / 3)), "\(cpu) on CPU at 49 Hz, about \(Int(expected)) samples: \(output)")
        // Swift frames arrive demangled. A sample taken while the spinner reads the clock or
        // the profiler's state may lose its frame (see ebpfTestSpinner); nearly all are taken
        // in its own loop.
        let spinning = lines.filter {
            $0.contains(";EBPFTests.ebpfTestSpinner(_: Swift.Int32, whileSleeping: Swift.Int32) -> Swift.Int64")
        }
        XCTAssertFalse(spinning.isEmpty, "\(lines)")
        for line in spinning {
            let caller = try XCTUnwrap(line.range(of: "Foundation.Thread.main()"), String(line))
            let callee = try XCTUnwrap(line.range(of: "ebpfTestSpinner"), String(line))
            XCTAssertLessThan(caller.lowerBound, callee.lowerBound, "outermost frame first: \(line)")
        }
    }
}

/// Burns CPU in a function whose name the profiler must find, until its thread has had
/// `milliseconds` of CPU time or process `process` is no longer in clock_nanosleep(2);
/// returns the nanoseconds of CPU time it had while it last saw that process sleeping.
///
/// Nearly all of its time goes to arithmetic on locals, with no call and no memory access
/// that ThreadSanitizer instruments, so a sample almost always lands in this frame itself,
/// whose frame pointer leads to its callers. It reads its CPU clock and the process's state
/// only every 2^20 rounds: a sample inside that code (the syscalls, or ThreadSanitizer's
/// interceptors and `__tsan_*` functions, which keep no frame pointer) loses this frame from
/// the stack.
@_cdecl("ebpf_test_spinner")
@inline(never)
func ebpfTestSpinner(_ milliseconds: Int32, whileSleeping process: Int32) -> Int64 {
    let start = ThreadCPUTime.now
    var sleeping = Duration.zero
    var spin: UInt64 = 0
    repeat {
        // A while loop over transparent integer operators: no call even at -Onone.
        var round = 0
        while round < 1 << 20 {
            spin = spin &* 6364136223846793005 &+ 1442695040888963407
            round &+= 1
        }
        // Read before the state: all of this CPU time came while the process still slept.
        let used = ThreadCPUTime.now - start
        guard isInClockNanosleep(process: process) else { break }
        sleeping = used
    } while sleeping < .milliseconds(Int(milliseconds))
    if spin == 42 { print("unlikely") }
    return Int64(sleeping / .nanoseconds(1))
}

/// Whether the main thread of `process` sleeps in clock_nanosleep(2) (as `sleep(3)` does):
/// /proc/PID/syscall names the call only while the thread is blocked in it. Plain system
/// calls, no Foundation: the spinner calls it every few milliseconds.
func isInClockNanosleep(process: Int32) -> Bool {
    let fd = open("/proc/\(process)/syscall", O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: 32)
    let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
    guard count > 0 else { return false }
    let number = buffer[..<count].prefix { $0 != UInt8(ascii: " ") }
    return String(decoding: number, as: UTF8.self) == "\(SyscallNumber.clockNanosleep)"
}

/// System call numbers as /proc/PID/syscall shows them (Glibc's `SYS_` macros do not import).
enum SyscallNumber {
    #if arch(arm64)
    static let read = 63
    static let clockNanosleep = 115
    #else
    static let read = 0
    static let clockNanosleep = 230
    #endif
}
