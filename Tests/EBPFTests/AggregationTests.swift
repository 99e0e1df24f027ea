@_spi(Generator) @testable import EBPF
import Foundation
import XCTest

/// In-kernel aggregations (no C) on the real kernel: each test makes the calls itself, from
/// its own thread (the filter), so every count and sum is known exactly.
final class AggregationTests: XCTestCase {
    /// fchdir on descriptors that are not open fails at once with EBADF; the library never
    /// calls it, so the thread's calls are the test's.
    private func fchdirs(_ fd: Int32, times: Int) {
        for _ in 0..<times { XCTAssertEqual(fchdir(fd), -1) }
    }

    func testCountByAnIntegerFieldCountsEachValueExactly() throws {
        try requireKernel()
        let b = try EBPFWrapper()
        defer { b.close() }
        let byDescriptor = try b.aggregate(.syscall("fchdir"), by: .field("fd"), filter: ourThread)
        XCTAssertEqual(byDescriptor.program.eventName, "syscalls:sys_enter_fchdir")
        fchdirs(900_001, times: 3)
        fchdirs(900_002, times: 5)

        XCTAssertEqual(
            try byDescriptor.snapshot(),
            [.init(key: .unsigned(900_002), count: 5), .init(key: .unsigned(900_001), count: 3)])
        XCTAssertEqual(try byDescriptor.droppedCount(), 0)
        XCTAssertEqual(
            try byDescriptor.text(),
            """
            fd      count
            900002      5
            900001      3
            """)
    }

    func testSumMinMaxAndAverageOfASignedField() throws {
        try requireKernel()
        let b = try EBPFWrapper()
        defer { b.close() }
        let seeks = try b.aggregate(.syscall("lseek"), .statistics(of: "offset"), by: .field("fd"), filter: ourThread)
        for offset: off_t in [10, -20, 30, 7] { XCTAssertEqual(lseek(900_003, offset, SEEK_SET), -1) }
        XCTAssertEqual(lseek(900_004, -5, SEEK_CUR), -1)

        let entries = try seeks.snapshot()
        XCTAssertEqual(
            entries,
            [
                .init(key: .unsigned(900_003), count: 4, sum: 27, min: -20, max: 30),
                .init(key: .unsigned(900_004), count: 1, sum: -5, min: -5, max: -5),
            ])
        XCTAssertEqual(entries.first?.average, 6.75)
        XCTAssertEqual(
            try seeks.text(top: 1),
            """
            fd      count  sum(offset)  min  max  avg
            900003      4           27  -20   30  6.8
            """)
    }

    func testCountByProcessNameAndAStringField() throws {
        try requireKernel()
        let b = try EBPFWrapper()
        defer { b.close() }
        let comm = ThisProcess.comm  // read from /proc before the openat count starts
        let byName = try b.aggregate(.syscall("getppid"), by: .processName, filter: ourThread)
        let total = try b.aggregate(.syscall("getppid"), filter: ourThread)
        // Last: compiling a program opens files on this thread.
        let byPath = try b.aggregate(.syscall("openat"), by: .field("filename"), filter: ourThread)
        for _ in 0..<7 { _ = getppid() }
        let path = "/nonexistent/ebpf-aggregation-\(getpid())"
        for _ in 0..<4 { XCTAssertEqual(open(path, O_RDONLY), -1) }

        XCTAssertEqual(try byName.snapshot(), [.init(key: .string(comm), count: 7)])
        XCTAssertEqual(try byPath.snapshot(), [.init(key: .string(path), count: 4)])
        XCTAssertEqual(try total.snapshot(), [.init(key: nil, count: 7)])
        XCTAssertEqual(try total.text(), "count\n    7")
    }

    /// A syscall's kernel function: a real kprobe reading the arguments behind the x86-64
    /// syscall wrapper where the kernel has kprobes (Debian's 6.1), the syscall's tracepoint
    /// where not (this 6.18); the same counts either way.
    func testAKprobeOnASyscallFunctionCountsByItsArgument() throws {
        try requireKernel()
        let b = try EBPFWrapper()
        defer { b.close() }
        let function = try b.syscallFunctionName("fchdir")
        let counts = try b.aggregate(.kprobe(function), .statistics(of: "fd"), by: .field("fd"), filter: ourThread)
        XCTAssertEqual(
            counts.program.eventName,
            KernelFeatures.supportsKprobes ? "kprobe:\(function)" : "syscalls:sys_enter_fchdir")
        fchdirs(900_071, times: 2)
        fchdirs(900_072, times: 1)
        XCTAssertEqual(
            try counts.snapshot(),
            [
                .init(key: .unsigned(900_071), count: 2, sum: 1_800_142, min: 900_071, max: 900_071),
                .init(key: .unsigned(900_072), count: 1, sum: 900_072, min: 900_072, max: 900_072),
            ])
    }

    func testALog2HistogramPutsEachValueInItsPowerOfTwoSlot() throws {
        try requireKernel()
        let b = try EBPFWrapper()
        defer { b.close() }
        let offsets = try b.aggregate(.syscall("lseek"), .histogram(of: "offset"), filter: ourThread)
        for offset: off_t in [0, 1, 5, 6, 1000, -3] { XCTAssertEqual(lseek(900_081, offset, SEEK_SET), -1) }

        let entry = try XCTUnwrap(try offsets.snapshot().first)
        XCTAssertNil(entry.key)
        XCTAssertEqual(entry.count, 6)
        XCTAssertEqual(entry.belowRangeCount, 1, "-3")
        XCTAssertEqual(entry.sum, 0 + 1 + 5 + 6 + 1000 - 3)
        let buckets = try XCTUnwrap(entry.histogram).buckets.filter { $0.count > 0 }
        XCTAssertEqual(
            buckets,
            [
                .init(low: 0, high: 1, count: 2), .init(low: 4, high: 7, count: 2),
                .init(low: 512, high: 1023, count: 1),
            ])
        let text = try offsets.text()
        XCTAssertTrue(text.contains("     offset              : count     distribution"), text)
        XCTAssertTrue(
            text.contains("       512 -> 1023       : 1        |********************                    |"), text)
        XCTAssertTrue(text.contains("below zero: 1"), text)
    }

    func testALinearHistogramPutsEachValueInItsStepAndCountsTheRestApart() throws {
        try requireKernel()
        let b = try EBPFWrapper()
        defer { b.close() }
        let offsets = try b.aggregate(
            .syscall("lseek"), .histogram(of: "offset", buckets: .linear(min: 100, max: 400, step: 100)),
            filter: ourThread)
        XCTAssertEqual(offsets.program.buckets, .linear(min: 100, max: 400, step: 100))
        for offset: off_t in [5, 100, 150, 199, 250, 399, 400, 5000, -3] {
            XCTAssertEqual(lseek(900_081, offset, SEEK_SET), -1)
        }

        let entry = try XCTUnwrap(try offsets.snapshot().first)
        XCTAssertEqual(entry.count, 9)
        XCTAssertEqual(entry.belowRangeCount, 2, "5 and -3")
        XCTAssertEqual(entry.aboveRangeCount, 2, "400 and 5000")
        XCTAssertEqual(entry.sum, 5 + 100 + 150 + 199 + 250 + 399 + 400 + 5000 - 3)
        let histogram = try XCTUnwrap(entry.histogram)
        XCTAssertEqual(histogram.scale, .steps(from: 100, width: 100))
        XCTAssertEqual(
            histogram.buckets,
            [
                .init(low: 100, high: 199, count: 3), .init(low: 200, high: 299, count: 1),
                .init(low: 300, high: 399, count: 1),
            ])
        let text = try offsets.text()
        XCTAssertTrue(
            text.contains("       200 -> 299        : 1        |*************                           |"), text)
        XCTAssertTrue(text.contains("below 100: 2"), text)
        XCTAssertTrue(text.contains("400 and above: 2"), text)
        for (buckets, expected) in [
            (HistogramBuckets.linear(min: -1, max: 10, step: 1), "0 <= min < max"),
            (.linear(min: 0, max: 10, step: 3), "a multiple of step"),
            (.linear(min: 0, max: 1_001, step: 1), "at most 1000 fit"),
        ] {
            XCTAssertThrowsError(try b.aggregate(.syscall("lseek"), .histogram(of: "offset", buckets: buckets))) {
                error in
                XCTAssertEqual((error as? EBPFError)?.code, .invalidArgument)
                XCTAssertTrue("\(error)".contains(expected), "\(error)")
            }
        }
    }

    func testAReturnValueHistogramByProcessName() throws {
        try requireKernel()
        let b = try EBPFWrapper()
        defer { b.close() }
        let zero = open("/dev/zero", O_RDONLY)
        defer { close(zero) }
        let comm = ThisProcess.comm
        let returns = try b.aggregate(.syscallExit("read"), .histogram(of: "ret"), by: .processName, filter: ourThread)
        XCTAssertEqual(returns.program.eventName, "syscalls:sys_exit_read")
        var buffer = [UInt8](repeating: 0, count: 100)
        for _ in 0..<2 { XCTAssertEqual(read(zero, &buffer, 100), 100) }
        XCTAssertEqual(read(900_091, &buffer, 100), -1)

        let entry = try XCTUnwrap(try returns.snapshot().first)
        XCTAssertEqual(entry.key, .string(comm))
        XCTAssertEqual(entry.count, 3)
        XCTAssertEqual(entry.belowRangeCount, 1, "-EBADF")
        XCTAssertEqual(entry.sum, 100 + 100 - Int64(EBADF))
        XCTAssertEqual(
            try XCTUnwrap(entry.histogram).buckets.filter { $0.count > 0 }, [.init(low: 64, high: 127, count: 2)])
    }

    /// The kernel's entry-to-exit time of a sleep lies between what was asked and what the
    /// caller measured around the call, so its slot is known.
    func testALatencyHistogramPlacesAKnownSleepInItsSlot() throws {
        try requireKernel()
        let b = try EBPFWrapper()
        defer { b.close() }
        let sleeps = try b.aggregate(.syscall("clock_nanosleep"), .latency, filter: ourThread)
        XCTAssertEqual(sleeps.program.histogramValueName, "nsecs")
        func slot(_ nanoseconds: UInt64) -> Int { 64 - nanoseconds.leadingZeroBitCount }
        // Each sleep on its own, taken after it: a late wake-up can put the 3 ms sleep in
        // the 20 ms one's slot, and then only each one's own bounds say where it belongs.
        for milliseconds in [3, 20] {
            let asked = Int64(milliseconds) * 1_000_000
            var request = timespec(tv_sec: 0, tv_nsec: milliseconds * 1_000_000)
            let start = ContinuousClock.now
            XCTAssertEqual(clock_nanosleep(CLOCK_MONOTONIC, 0, &request, nil), 0)
            let measured = Int64((ContinuousClock.now - start) / .nanoseconds(1))
            let entries = try sleeps.take()
            XCTAssertEqual(entries.count, 1, "\(milliseconds) ms: \(entries)")
            let entry = try XCTUnwrap(entries.first)
            XCTAssertEqual(entry.count, 1, "\(milliseconds) ms")
            let sum = try XCTUnwrap(entry.sum)
            XCTAssertTrue((asked...measured).contains(sum), "\(milliseconds) ms: \(sum) ns in \(asked)...\(measured)")
            let histogram = try XCTUnwrap(entry.histogram)
            let filled = histogram.counts.indices.filter { histogram.counts[$0] > 0 }
            XCTAssertEqual(histogram.counts.reduce(0, +), 1, "\(milliseconds) ms")
            let expected = slot(UInt64(asked))...slot(UInt64(measured))
            XCTAssertEqual(filled.count, 1, "\(milliseconds) ms: \(filled)")
            for slot in filled { XCTAssertTrue(expected.contains(slot), "\(milliseconds) ms: \(slot) in \(expected)") }
        }
        XCTAssertThrowsError(try b.aggregate(.syscall("read"), .latency, by: .field("fd"))) { error in
            XCTAssertEqual((error as? EBPFError)?.code, .invalidArgument)
            XCTAssertTrue("\(error)".contains("field 'fd' cannot be its key"), "\(error)")
        }
        XCTAssertThrowsError(try b.aggregate(.syscall("no_such_syscall"), .latency)) { error in
            XCTAssertEqual((error as? EBPFError)?.code, .notFound)
        }
    }

    func testTakeEmptiesTheTableAndAFullTableCountsWhatItDrops() throws {
        try requireKernel()
        let b = try EBPFWrapper()
        defer { b.close() }
        let small = try b.aggregate(
            .syscall("fchdir"), by: .field("fd"), filter: ourThread, options: AggregationOptions(maxKeys: 2))
        fchdirs(900_011, times: 2)
        fchdirs(900_012, times: 1)
        fchdirs(900_013, times: 4)  // a third key: no room

        XCTAssertEqual(
            try small.take(), [.init(key: .unsigned(900_011), count: 2), .init(key: .unsigned(900_012), count: 1)])
        XCTAssertEqual(try small.droppedCount(), 4)
        XCTAssertEqual(try small.snapshot(), [], "take() removed what it read")
        fchdirs(900_013, times: 1)
        XCTAssertEqual(try small.take(), [.init(key: .unsigned(900_013), count: 1)])
        try small.reset()
        XCTAssertEqual(try small.droppedCount(), 0)
    }

    func testIntervalsAddUpToEveryEventAndEndWhenDetached() async throws {
        try requireKernel()
        let b = try EBPFWrapper()
        defer { b.close() }
        let filter = ProbeFilter(processID: ThisProcess.pid, threadID: ThisProcess.tid)
        let counts = try b.aggregate(.syscall("fchdir"), by: .field("fd"), filter: filter)
        let intervals = counts.intervals(every: .milliseconds(20))
        for round in 0..<50 {
            XCTAssertEqual(fchdir(900_021), -1)
            if round % 10 == 0 { usleep(15_000) }
        }
        counts.detach()
        XCTAssertFalse(counts.isAttached)
        var total: UInt64 = 0
        var elements = 0
        for try await interval in intervals {
            elements += 1
            total += interval.reduce(0) { $0 + $1.count }
        }
        XCTAssertEqual(total, 50, "each event in exactly one interval")
        XCTAssertGreaterThanOrEqual(elements, 1)
    }

    func testTakingWhileAnotherThreadCallsCountsEveryCallOnce() throws {
        try requireKernel()
        let b = try EBPFWrapper()
        defer { b.close() }
        // A thread that reports its id, waits for the go, then calls fchdir until told to
        // stop, counting its own calls. It stops only after the takes, so every take runs
        // while it calls, however fast or busy the machine is.
        let tid = Locked<Int32>(0)
        let made = Locked(0)
        let stop = Locked(false)
        let go = DispatchSemaphore(value: 0)
        let finished = DispatchSemaphore(value: 0)
        let worker = Thread {
            tid.withLock { $0 = ThisProcess.tid }
            go.wait()
            while !stop.withLock({ $0 }) {
                _ = fchdir(900_041)
                made.withLock { $0 += 1 }
            }
            finished.signal()
        }
        worker.start()
        XCTAssertTrue(waitUntil { tid.withLock { $0 } != 0 })
        let counts = try b.aggregate(
            .syscall("fchdir"), filter: ProbeFilter(processID: ThisProcess.pid, threadID: tid.withLock { $0 }))
        go.signal()
        var total: UInt64 = 0
        let takes = 5
        for _ in 0..<takes {
            // Each take follows calls made since the one before.
            let before = made.withLock { $0 }
            XCTAssertTrue(waitUntil(timeout: eventTimeout) { made.withLock { $0 } > before })
            total += try counts.take().reduce(0) { $0 + $1.count }
        }
        stop.withLock { $0 = true }
        XCTAssertEqual(finished.wait(timeout: .now() + 60), .success)
        counts.detach()
        total += try counts.take().reduce(0) { $0 + $1.count }
        XCTAssertEqual(total, UInt64(made.withLock { $0 }), "every call in exactly one of \(takes + 1) takes")
    }

    func testDetachStopsCountingAndCloseFreesTheTable() throws {
        try requireKernel()
        let b = try EBPFWrapper()
        let counts = try b.aggregate(.syscall("fchdir"), filter: ourThread)
        fchdirs(900_031, times: 2)
        counts.detach()
        fchdirs(900_031, times: 3)
        XCTAssertEqual(try counts.snapshot(), [.init(key: nil, count: 2)], "readable after detach, not counting")
        b.close()
        XCTAssertThrowsError(try counts.snapshot()) { error in
            XCTAssertEqual((error as? EBPFError)?.code, .closed)
        }
    }

    func testBadFieldsAndOptionsThrowBeforeAnythingIsCompiled() throws {
        try requireKernel()
        let b = try EBPFWrapper()
        defer { b.close() }
        let compiles = BPFModule.compileCount.load(ordering: .relaxed)
        XCTAssertThrowsError(try b.aggregate(.syscall("openat"), by: .field("nosuch"))) { error in
            XCTAssertEqual((error as? EBPFError)?.code, .notFound)
            XCTAssertTrue(
                "\(error)".contains(
                    "\"nosuch\" is not a field of syscalls:sys_enter_openat, so it cannot be the key; its fields: dfd, filename, flags, mode"
                ), "\(error)")
        }
        XCTAssertThrowsError(try b.aggregate(.syscall("openat"), .statistics(of: "filename"))) { error in
            XCTAssertEqual((error as? EBPFError)?.code, .invalidArgument)
            XCTAssertTrue("\(error)".contains("only an integer field has a sum, min and max"), "\(error)")
        }
        XCTAssertThrowsError(try b.aggregate(.syscall("openat"), options: AggregationOptions(stringSize: 1000))) {
            error in
            XCTAssertEqual((error as? EBPFError)?.code, .invalidArgument)
        }
        XCTAssertThrowsError(try b.aggregate(.syscall("no_such_syscall"))) { error in
            XCTAssertEqual((error as? EBPFError)?.code, .notFound)
        }
        XCTAssertEqual(BPFModule.compileCount.load(ordering: .relaxed), compiles, "nothing compiled")
        XCTAssertTrue(b.session.probes.isEmpty)
    }
}
