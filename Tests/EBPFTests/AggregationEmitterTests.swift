import EBPFKernel
import Foundation
import XCTest

@_spi(Generator) @testable import EBPF

/// Aggregations built by ``AggregationEmitter`` against the same aggregations compiled
/// from their C by clang, on the same events: every key's count, sum, min, max and
/// histogram equal, and the same tables.
final class AggregationEmitterTests: XCTestCase {
    /// One aggregation of each kind the emitter builds: every key (ids, the name, signed
    /// and unsigned integer fields, a user string, a fixed character array, a `__data_loc`
    /// string), counts, statistics of a 64-bit signed field, log2 and linear histograms, a
    /// return value, on routed syscalls and on other tracepoints.
    func testEmittedAggregationsEqualCompiledOnesOnTheSameEvents() throws {
        try requireKernel()
        let program = "ebpfagg\(getpid() % 100_000)"
        let link = NSTemporaryDirectory() + program
        try? FileManager.default.removeItem(atPath: link)
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "/bin/true")
        defer { try? FileManager.default.removeItem(atPath: link) }
        let cgroup = try Cgroup.of(processID: getpid())
        var inOurCgroup = ourThread
        inOurCgroup.cgroup = cgroup.path
        var inOurCgroupAlone = inOurCgroup
        inOurCgroupAlone.cgroupDescendants = false
        let asked: [(AttachPoint, AggregationMeasure, AggregationKey?, ProbeFilter)] = [
            (.syscall("fchdir"), .count, .processName, ourThread),
            (.syscall("fchdir"), .count, .processID, ourThread),
            (.syscall("fchdir"), .count, .threadID, ourThread),
            (.syscall("fchdir"), .count, .userID, ourThread),
            (.syscall("fchdir"), .count, .cpu, ourThread),
            (.syscall("fchdir"), .statistics(of: "fd"), .field("fd"), ourThread),
            (.syscall("lseek"), .statistics(of: "offset"), .field("whence"), ourThread),
            (.syscall("lseek"), .histogram(of: "offset"), nil, ourThread),
            (
                .syscall("lseek"), .histogram(of: "offset", buckets: .linear(min: 0, max: 100, step: 10)), .field("fd"),
                ourThread
            ),
            (.syscall("openat"), .count, .field("filename"), ourThread),
            (.syscallExit("openat"), .histogram(of: "ret"), .processName, ourThread),
            (.syscallExit("openat"), .statistics(of: "ret"), nil, ourThread),
            (.tracepoint("task:task_rename"), .statistics(of: "oom_score_adj"), .field("newcomm"), ourThread),
            (.syscall("fchdir"), .count, .cgroup, ourThread),
            (.syscall("fchdir"), .count, .processID, inOurCgroup),
            (.syscall("fchdir"), .count, .threadID, inOurCgroupAlone),
            (.tracepoint("sched:sched_process_exec"), .count, .field("filename"), ProbeFilter(processName: program)),
        ]
        var sides: [[Aggregation]] = []
        for builder in [ProbeBuilder.emitter, .compiler] {
            let b = try EBPFWrapper(cache: nil, probeBuilder: builder)
            addTeardownBlock { b.close() }
            let compilesBefore = BPFModule.compileCount.load(ordering: .relaxed)
            sides.append(
                try asked.map { point, measure, key, filter in
                    try b.aggregate(point, measure, by: key, filter: filter)
                })
            let compiles = BPFModule.compileCount.load(ordering: .relaxed) - compilesBefore
            XCTAssertEqual(compiles, builder == .emitter ? 0 : asked.count, "\(builder)")
        }

        // Attaching opens files on this thread (format files, and clang its headers): only
        // what follows counts.
        for aggregation in sides.joined() { try aggregation.reset() }
        let directory = open("/", O_RDONLY | O_DIRECTORY)
        defer { close(directory) }
        for fd in [directory, -5, -5, 900_001] { _ = fchdir(fd) }
        for (offset, whence) in [(0, SEEK_SET), (1, SEEK_SET), (5, SEEK_CUR), (99, SEEK_END), (1 << 40, SEEK_SET)] {
            XCTAssertEqual(lseek(900_081, off_t(offset), whence), -1)
        }
        XCTAssertEqual(lseek(900_082, -3, SEEK_SET), -1)
        XCTAssertEqual(lseek(900_082, 100, SEEK_SET), -1)
        XCTAssertEqual(open("/nonexistent/ebpf-aggregation-emitter", O_RDONLY), -1)
        let opened = open("/", O_RDONLY | O_DIRECTORY)
        XCTAssertGreaterThanOrEqual(opened, 0)
        close(opened)
        let name = ThisProcess.comm
        XCTAssertTrue(renameThisThread("ebpf-agg-emit"))
        XCTAssertTrue(renameThisThread(name))
        XCTAssertEqual(try runToCompletion(link, []).termination, .exited(0))

        // The exec is another process's: both sides see it once the child has run.
        XCTAssertTrue(waitUntil { sides.allSatisfy { (try? $0.last?.snapshot().first?.count) == 1 } })
        for (index, (emitted, compiled)) in zip(sides[0], sides[1]).enumerated() {
            let one = try emitted.snapshot()
            let other = try compiled.snapshot()
            XCTAssertFalse(one.isEmpty, "\(index): \(emitted)")
            XCTAssertEqual(one, other, "\(index): \(emitted)")
            XCTAssertEqual(try emitted.droppedCount(), 0)
        }
        let byIndex = try sides[0].map { try $0.snapshot() }
        // fchdir's `fd` is an `unsigned int`: -5 is 2^32 - 5, as both read it.
        let minusFive = UInt64(UInt32(bitPattern: -5))
        XCTAssertEqual(byIndex[5].map(\.key), [.unsigned(minusFive), .unsigned(UInt64(directory)), .unsigned(900_001)])
        XCTAssertEqual(byIndex[5].first?.sum, Int64(2 * minusFive))
        XCTAssertEqual(byIndex[6].first { $0.key == .unsigned(UInt64(SEEK_SET)) }?.max, 1 << 40)
        XCTAssertEqual(byIndex[7].first?.belowRangeCount, 1, "-3")
        XCTAssertEqual(byIndex[8].first { $0.key == .unsigned(900_082) }?.aboveRangeCount, 1, "100")
        XCTAssertEqual(byIndex[9].first { $0.key == .string("/nonexistent/ebpf-aggregation-emitter") }?.count, 1)
        XCTAssertEqual(byIndex[12].map(\.key), [.string("ebpf-agg-emit"), .string(name)])
        XCTAssertEqual(byIndex[16].map(\.key), [.string(link)])
        // This thread's four fchdir calls, by its cgroup, and through a filter on it.
        XCTAssertEqual(byIndex[13].map(\.key), [.unsigned(cgroup.id)])
        XCTAssertEqual(byIndex[13].map(\.count), [4])
        XCTAssertEqual(byIndex[14].map(\.count), [4])
        XCTAssertEqual(byIndex[15].map(\.count), [4])
    }

    /// A latency, its entry and exit both emitted and routed: the same calls counted, each
    /// no shorter than the sleep asked for.
    func testAnEmittedLatencyCountsWhatACompiledOneCounts() throws {
        try requireKernel()
        var sides: [Aggregation] = []
        for builder in [ProbeBuilder.emitter, .compiler] {
            let b = try EBPFWrapper(cache: nil, probeBuilder: builder)
            addTeardownBlock { b.close() }
            sides.append(try b.aggregate(.syscall("clock_nanosleep"), .latency, by: .threadID, filter: ourThread))
        }
        for _ in 0..<3 {
            var request = timespec(tv_sec: 0, tv_nsec: 2_000_000)
            XCTAssertEqual(clock_nanosleep(CLOCK_MONOTONIC, 0, &request, nil), 0)
        }
        let (emitted, compiled) = (try sides[0].snapshot(), try sides[1].snapshot())
        XCTAssertEqual(emitted.map(\.key), [.signed(Int64(ThisProcess.tid))])
        XCTAssertEqual(emitted.map(\.key), compiled.map(\.key))
        XCTAssertEqual(emitted.map(\.count), [3])
        XCTAssertEqual(compiled.map(\.count), [3])
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(emitted.first?.sum), 3 * 2_000_000)
        XCTAssertEqual(emitted.first?.histogram?.counts.reduce(0, +), 3)
    }

    /// The emitted object has the tables clang's has: the same names, types, sizes and
    /// flags; and what only clang builds is compiled.
    func testEmittedTablesAreTheTablesLibbccCreates() throws {
        try requireKernel()
        let b = try EBPFWrapper(cache: nil)
        defer { b.close() }
        let lseek = try TracepointFormat.load(category: "syscalls", name: "sys_enter_lseek")
        let openat = try TracepointFormat.load(category: "syscalls", name: "sys_enter_openat")
        let programs = try [
            AggregationProgram(tracepoint: lseek, by: .processName, field: "offset"),
            AggregationProgram(tracepoint: openat, by: .field("filename")),
            AggregationProgram(
                resolved: .tracepoint(category: "syscalls", name: "sys_enter_lseek"), format: lseek, key: .threadID,
                measure: .histogram(field: "offset", buckets: .linear(min: 0, max: 10, step: 5)),
                filter: ProbeFilter(), options: .default),
        ]
        try LibBCC.requireCompiler()
        for program in programs {
            let object = try XCTUnwrap(AggregationEmitter.object(for: program, routing: nil))
            let module = try LibBCC.Module.compile(text: program.text, cflags: [])
            let compiled = try XCTUnwrap(LibBCC.withLock { try module.compiledObject() })
            XCTAssertEqual(object.maps.map(\.shape).sorted(), compiled.maps.map(\.shape).sorted())
            XCTAssertEqual(object.functions.map(\.name), compiled.functions.map(\.name))
        }
        let stacks = try AggregationProgram(
            resolved: .tracepoint(category: "syscalls", name: "sys_enter_lseek"), format: lseek, key: .userStack,
            measure: .count, filter: ProbeFilter(), options: .default)
        XCTAssertNil(AggregationEmitter.object(for: stacks, routing: nil), "a stack key is compiled")
    }

    /// Sets the calling thread's name as `prctl(PR_SET_NAME)` does (which fires task_rename).
    private func renameThisThread(_ name: String) -> Bool {
        let fd = open("/proc/thread-self/comm", O_WRONLY)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return write(fd, name, name.utf8.count) == name.utf8.count
    }
}
