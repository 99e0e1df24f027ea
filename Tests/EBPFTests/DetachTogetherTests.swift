@testable import EBPF
import Foundation
import Synchronization
import XCTest

/// Stopping many probes together: `detachAll()` and `Probe.detach(_:)` detach every program
/// at once, and once they return, no closure runs and no aggregation counts, while another
/// thread keeps making the traced calls.
final class DetachTogetherTests: XCTestCase {
    /// The syscalls the probes trace; a thread keeps calling the first.
    private static let syscalls = [
        "getppid", "getpgid", "getsid", "getuid", "geteuid", "getgid", "getegid", "getpgrp", "fchdir", "getcwd",
        "sched_yield", "umask",
    ]

    func testNoClosureRunsAfterDetachAllReturns() throws {
        try requireKernel()
        let b = try EBPFWrapper()
        defer { b.close() }
        try assertNothingAfterDetaching(b, aggregationDetached: true) { _ in b.detachAll() }
    }

    func testNoClosureRunsAfterAGroupDetachReturns() throws {
        try requireKernel()
        let b = try EBPFWrapper()
        defer { b.close() }
        try assertNothingAfterDetaching(b, aggregationDetached: false) { probes in Probe.detach(probes) }
    }

    /// Attaches a probe per syscall and an aggregation of this thread's `getppid` while a
    /// second thread calls `getppid` without pause, waits for an event, runs `detach`, and
    /// checks that no closure ran after it returned, and that the aggregation counts this
    /// thread's next 1,000 calls exactly when still attached, none when detached.
    private func assertNothingAfterDetaching(
        _ b: EBPFWrapper<NoProgram>, aggregationDetached: Bool, _ detach: ([Probe]) -> Void,
        file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let detached = Atomic<Bool>(false)
        let late = Atomic<Int>(0)
        let received = Atomic<Int>(0)
        let probes = try b.attach(Self.syscalls.map { .syscall($0) }, filter: ProbeFilter(processID: ThisProcess.pid)) {
            _ in
            if detached.load(ordering: .acquiring) { late.add(1, ordering: .relaxed) }
            received.add(1, ordering: .relaxed)
        }
        let counts = try b.aggregate(.syscall("getppid"), filter: ProbeFilter(threadID: ThisProcess.tid))
        let spinning = Atomic<Bool>(true)
        let spinnerEnded = DispatchSemaphore(value: 0)
        Thread {
            while spinning.load(ordering: .relaxed) { _ = getppid() }
            spinnerEnded.signal()
        }.start()
        defer {
            spinning.store(false, ordering: .relaxed)
            spinnerEnded.wait()
        }
        XCTAssertTrue(waitUntil { received.load(ordering: .relaxed) > 0 }, file: file, line: line)

        detach(probes)
        detached.store(true, ordering: .releasing)
        XCTAssertEqual(probes.filter(\.isAttached).count, 0, file: file, line: line)
        let before = try counts.snapshot().first?.count ?? 0
        for _ in 0..<1_000 { _ = getppid() }
        let after = try counts.snapshot().first?.count ?? 0
        XCTAssertEqual(after - before, aggregationDetached ? 0 : 1_000, file: file, line: line)
        XCTAssertEqual(
            late.load(ordering: .relaxed), 0, "closures ran after the detach returned", file: file, line: line)
    }
}
