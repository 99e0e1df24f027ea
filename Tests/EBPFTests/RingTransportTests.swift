import Dispatch
import Foundation
import Synchronization
import XCTest

@testable import EBPF

/// The ring buffer transport of emitted probes: records built in place in one ring for all
/// CPUs, in the order they were reserved, and every record either delivered or counted lost.
final class RingTransportTests: XCTestCase {
    /// The handler holds the polling thread on the first event while this thread makes
    /// 20,000 more, so the smallest ring (256 KiB) fills: each event is then delivered or
    /// counted lost, exactly once.
    func testEveryEventIsDeliveredOrCountedLost() throws {
        try requireKernel()
        let b = try EBPFWrapper(cache: nil, probeBuilder: .emitter)
        let held = DispatchSemaphore(value: 0)
        let received = Atomic<Int>(0)
        let reported = Atomic<UInt64>(0)
        let options = ProbeOptions(perfBuffer: PerfBufferOptions(pageCount: 1), transport: .ringBuffer)
        let probe = try b.attach(
            .syscall("getppid"), filter: ourThread, options: options,
            lost: { reported.add($0, ordering: .relaxed) },
            handler: { _ in
                if received.add(1, ordering: .relaxed).newValue == 1 { held.wait() }
            })
        let calls = 20_000
        for _ in 0..<calls { _ = getppid() }
        held.signal()
        b.close()
        let lost = probe.lostCount
        XCTAssertGreaterThan(lost, 10_000, "a 256 KiB ring holds about 4,000 of them")
        XCTAssertEqual(UInt64(received.load(ordering: .relaxed)) + lost, UInt64(calls))
        XCTAssertEqual(probe.receivedCount, UInt64(received.load(ordering: .relaxed)))
        XCTAssertEqual(reported.load(ordering: .relaxed), lost, "the lost handler saw every loss")
    }

    /// Events of two threads pinned to two CPUs arrive through one ring, each thread's in the
    /// order it made them.
    func testOneRingHoldsEveryCPUsEvents() throws {
        try requireKernel()
        let b = try EBPFWrapper(cache: nil, probeBuilder: .emitter)
        defer { b.close() }
        let events = Collected<ProbeEvent>()
        try b.attach(
            .syscall("fchdir"), filter: ProbeFilter(processID: ThisProcess.pid),
            options: ProbeOptions(transport: .ringBuffer), handler: events.append)
        let group = DispatchGroup()
        for (cpu, base) in [(0, 910_000), (1, 920_000)] {
            group.enter()
            Thread {
                CPUAffinity.pinCallingThread(to: cpu)
                for index in 0..<500 { _ = fchdir(Int32(base + index)) }
                group.leave()
            }.start()
        }
        group.wait()
        XCTAssertTrue(waitUntil { events.count >= 1_000 }, "\(events.count)")
        XCTAssertTrue(waitForDeliveryOfEverythingWrittenSoFar(b))
        let delivered = events.all
        XCTAssertEqual(delivered.count, 1_000)
        for base in [910_000, 920_000] {
            let mine = delivered.compactMap { $0.fd?.intValue }.filter { (base..<base + 500).contains($0) }
            XCTAssertEqual(mine, Array(base..<base + 500), "each thread's events in its order, in one ring")
        }
        XCTAssertEqual(Set(delivered.map(\.cpu)), [0, 1])
    }
}
