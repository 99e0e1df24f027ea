@_spi(Generator) @testable import EBPF
import Foundation
import XCTest

/// `deliveredThrough` and `onDrainPass`: once a pass over every buffer has begun after an
/// event's record was written, the event has been delivered and the watermark is past it.
///
/// What is not asserted: that no event ever arrives stamped before a watermark already
/// announced. That holds when a program writes its record within the 1 ms margin after
/// stamping it, which a vCPU the hypervisor stalls in between can exceed (it did once in the
/// emulated 6.1 guest); such an event is what `ebpf-trace` counts as late.
final class DeliveryOrderTests: XCTestCase {
    private struct Seen {
        var watermark: UInt64 = 0
        var passes = 0
        var passesWentBack = false
        /// Each event's fd, timestamp and CPU.
        var events: [(fd: Int, timestamp: UInt64, cpu: Int)] = []
    }

    func testEveryEventIsDeliveredByThePassThatBeginsAfterIt() throws {
        try requireKernel()
        XCTAssertGreaterThanOrEqual(sysconf(Int32(_SC_NPROCESSORS_ONLN)), 2, "the test needs two CPUs")
        let b = try EBPFWrapper(cache: nil)
        defer { b.close() }
        XCTAssertNil(b.delivery.deliveredThrough, "no pass before the first buffer")

        let seen = Locked(Seen())
        b.delivery.onDrainPass { through in
            seen.withLock {
                if through < $0.watermark { $0.passesWentBack = true }
                $0.watermark = through
                $0.passes += 1
            }
        }
        let firstFD = 900_300
        _ = try b.attach(.syscall("lseek"), filter: ourProcess) { event in
            guard let fd = event.fd?.intValue, fd >= firstFD, fd < firstFD + 2 else { return }
            seen.withLock { $0.events.append((fd, event.timestamp, event.cpu)) }
        }

        // Two threads, one on each CPU, make a round of calls each; after every round the
        // test waits for a pass whose watermark is past the time read after the calls (that
        // pass began more than the 1 ms margin after them) and requires every call of the
        // round delivered and behind the watermark.
        let rounds = 8
        let callsPerRound = 50
        let go = [DispatchSemaphore(value: 0), DispatchSemaphore(value: 0)]
        let roundDone = DispatchSemaphore(value: 0)
        for side in 0..<2 {
            Thread {
                CPUAffinity.pinCallingThread(to: side)
                for _ in 0..<rounds {
                    go[side].wait()
                    for _ in 0..<callsPerRound { _ = lseek(Int32(firstFD + side), 0, SEEK_SET) }
                    roundDone.signal()
                }
            }.start()
        }
        for round in 1...rounds {
            go.forEach { $0.signal() }
            for _ in 0..<2 { XCTAssertEqual(roundDone.wait(timeout: .now() + 60), .success) }
            let afterCalls = KernelClock.now()
            XCTAssertTrue(
                waitUntil(timeout: eventTimeout) { seen.withLock { $0.watermark } > afterCalls },
                "a pass announced past the calls (passes every 10 ms)")
            let state = seen.withLock { $0 }
            XCTAssertEqual(state.events.count, round * 2 * callsPerRound, "every call so far delivered")
            let latest = try XCTUnwrap(state.events.map(\.timestamp).max())
            XCTAssertGreaterThan(state.watermark, latest, "the watermark is past every call so far")
            XCTAssertGreaterThanOrEqual(try XCTUnwrap(b.delivery.deliveredThrough), state.watermark)
        }

        let state = seen.withLock { $0 }
        XCTAssertFalse(state.passesWentBack, "watermarks only move forward")
        XCTAssertEqual(Set(state.events.map(\.cpu)), [0, 1], "events of both CPUs")
        XCTAssertEqual(
            Dictionary(grouping: state.events, by: \.fd).mapValues(\.count),
            [
                firstFD: rounds * callsPerRound, firstFD + 1: rounds * callsPerRound,
            ])
        XCTAssertLessThanOrEqual(state.watermark, KernelClock.now())
    }
}
