@testable import EBPF
import Foundation
import XCTest

/// The polling thread's contract with sources, driven by a source the test controls.
final class EventPollerTests: XCTestCase {
    /// A source whose descriptor is a pipe the test writes to; each drain calls `onDrain`.
    final class ScriptedSource: EventSource, @unchecked Sendable {
        // @unchecked Sendable: the pipe ends are immutable; `onDrain` runs on the poller
        // thread only; `released` is behind a lock.
        let pipe: (read: Int32, write: Int32)
        let onDrain: @Sendable (Int) -> Void
        private let drains = Locked<Int>(0)
        let releases = Locked<Int>(0)

        init(onDrain: @escaping @Sendable (Int) -> Void) {
            var fds: [Int32] = [-1, -1]
            precondition(Glibc.pipe(&fds) == 0)
            pipe = (fds[0], fds[1])
            _ = fcntl(fds[0], F_SETFL, O_NONBLOCK)  // A drain with nothing waiting returns.
            self.onDrain = onDrain
        }

        deinit {
            close(pipe.read)
            close(pipe.write)
        }

        var pollDescriptors: [Int32] { [pipe.read] }
        var needsTimedDrain: Bool { false }

        /// Makes the poller drain this source once.
        func signal() { XCTAssertEqual(write(pipe.write, "x", 1), 1) }

        func drain() {
            var byte: UInt8 = 0
            _ = read(pipe.read, &byte, 1)
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
        XCTAssertEqual(firstDrainStarted.wait(timeout: .now() + 10), .success)
        let stopped = DispatchSemaphore(value: 0)
        Thread {
            poller.stop()
            stopped.signal()
        }.start()
        XCTAssertTrue(pollUntil(timeout: .seconds(10)) { poller.isStopping }, "stop() requested")
        gate.signal()
        XCTAssertEqual(finalDrainStarted.wait(timeout: .now() + 10), .success, "stop() delivers what is left")
        poller.remove(source)
        XCTAssertTrue(finalDrainEnded.withLock { $0 }, "remove() returned while the source was still delivering")
        XCTAssertEqual(stopped.wait(timeout: .now() + 10), .success)
        XCTAssertEqual(source.releases.withLock { $0 }, 1, "released exactly once")
    }
}
