@_spi(Generator) @testable import EBPF
@testable import EBPFKernel
import Foundation
import XCTest

/// The polling thread's contract with sources, driven by a source the test controls.
final class EventPollerTests: XCTestCase {
    /// A source whose descriptor is a pipe the test writes to; each drain calls `onDrain`.
    final class ScriptedSource: EventSource, @unchecked Sendable {
        // @unchecked Sendable: the pipe ends are immutable; `onDrain` runs on the poller
        // thread only; `released` is behind a lock.
        let readEnd: FileDescriptor
        let writeEnd: FileDescriptor
        let onDrain: @Sendable (Int) -> Void
        private let drains = Locked<Int>(0)
        let releases = Locked<Int>(0)

        init(onDrain: @escaping @Sendable (Int) -> Void) {
            var fds: [Int32] = [-1, -1]
            precondition(Glibc.pipe(&fds) == 0)
            readEnd = FileDescriptor(adopting: fds[0])
            writeEnd = FileDescriptor(adopting: fds[1])
            _ = fcntl(fds[0], F_SETFL, O_NONBLOCK)  // A drain with nothing waiting returns.
            self.onDrain = onDrain
        }

        func watch(in pollSet: PollSet, id: UInt64) throws(SystemCallFailure) { try pollSet.add(readEnd, id: id) }
        func unwatch(from pollSet: PollSet) { pollSet.remove(readEnd) }
        var needsTimedDrain: Bool { false }

        /// Makes the poller drain this source once.
        func signal() { XCTAssertEqual(write(writeEnd.rawValue, "x", 1), 1) }

        func drain() {
            var byte: UInt8 = 0
            _ = read(readEnd.rawValue, &byte, 1)
            let number = drains.withLock { count -> Int in
                count += 1
                return count
            }
            onDrain(number)
        }

        func release() { releases.withLock { $0 += 1 } }
    }

    /// `remove()` (an `EventBuffer.close()`) called while the stopping poller delivers what
    /// is left must wait for that delivery: a callback after `close()` returned would run on
    /// state its owner already tore down. It returned at once before, mid-delivery.
    func testRemoveDuringTheFinalDrainWaitsForIt() throws {
        let poller = try EventPoller(drainInterval: .milliseconds(10))
        let gate = DispatchSemaphore(value: 0)
        let firstDrainStarted = DispatchSemaphore(value: 0)
        let finalDrainStarted = DispatchSemaphore(value: 0)
        let finalDrainEnded = Locked<Bool>(false)
        let source = ScriptedSource { number in
            if number == 1 {
                firstDrainStarted.signal()
                _ = gate.wait(timeout: .now() + 30)  // Holds the poller while stop() is requested.
            } else {
                finalDrainStarted.signal()
                usleep(200_000)
                finalDrainEnded.withLock { $0 = true }
            }
        }
        try poller.add(source)
        source.signal()
        XCTAssertEqual(firstDrainStarted.wait(timeout: .now() + 60), .success)
        let stopped = DispatchSemaphore(value: 0)
        Thread {
            poller.stop()
            stopped.signal()
        }.start()
        XCTAssertTrue(pollUntil(timeout: eventTimeout) { poller.isStopping }, "stop() requested")
        gate.signal()
        XCTAssertEqual(finalDrainStarted.wait(timeout: .now() + 60), .success, "stop() delivers what is left")
        poller.remove(source)
        XCTAssertTrue(finalDrainEnded.withLock { $0 }, "remove() returned while the source was still delivering")
        XCTAssertEqual(stopped.wait(timeout: .now() + 60), .success)
        XCTAssertEqual(source.releases.withLock { $0 }, 1, "released exactly once")
    }

    /// The wait before a timed drain ends when the drain is due, however recently the thread
    /// woke for something else. It was a whole interval from each wake-up: a wake-up 9.9 ms
    /// into a 10 ms interval put the drain (and a lone event) off to 19.9 ms.
    func testTheWaitEndsWhenTheTimedDrainIsDue() {
        let interval = Duration.milliseconds(10)
        func timeout(after elapsed: Duration) -> Int32 {
            EventPoller.waitTimeout(sinceTimedDrain: elapsed, interval: interval, timed: true)
        }
        XCTAssertEqual(timeout(after: .zero), 10)
        XCTAssertEqual(timeout(after: .microseconds(3_200)), 7, "rounded up, never early")
        XCTAssertEqual(timeout(after: .microseconds(9_900)), 1)
        XCTAssertEqual(timeout(after: interval), 0)
        XCTAssertEqual(timeout(after: .milliseconds(25)), 0, "overdue: no wait")
        XCTAssertEqual(
            EventPoller.waitTimeout(sinceTimedDrain: .zero, interval: interval, timed: false), -1,
            "nothing to drain on a timer: wait for descriptors only")
    }
}
