@_spi(Generator) @testable import EBPF
import Foundation

/// The CPU time the calling thread has used (`CLOCK_THREAD_CPUTIME_ID`).
///
/// What a CPU-clock perf event samples and what a busy loop gets done both follow this, not
/// the wall clock: on a machine busy with other work, a thread that spins for a wall-clock
/// time gets only its share of a CPU.
enum ThreadCPUTime {
    /// The calling thread's CPU time so far.
    static var now: Duration {
        var time = timespec()
        precondition(clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time) == 0, "CLOCK_THREAD_CPUTIME_ID")
        return .seconds(time.tv_sec) + .nanoseconds(time.tv_nsec)
    }

    /// Keeps the calling thread busy until it has used `duration` of CPU time, however long
    /// that takes on the wall clock; returns the busy-work result, to keep the loop.
    @discardableResult
    static func spin(for duration: Duration) -> UInt64 {
        let end = now + duration
        var spin: UInt64 = 0
        repeat {
            for _ in 0..<1_000 { spin = spin &* 6_364_136_223_846_793_005 &+ 1 }
        } while now < end
        return spin
    }
}

/// Waits until `b`'s polling thread has begun a pass over every buffer after this call:
/// then every record the kernel wrote before the call has been handed to its callback.
/// False when no such pass began within `timeout`: a wrapper with no buffer runs none, nor
/// does one whose buffers are all ring buffers or perf buffers woken on every record
/// (`wakeupEvents` 1), which need no timed pass.
func waitForDeliveryOfEverythingWrittenSoFar(_ b: EBPFWrapper<some WrapperProgram>, timeout: Duration = .seconds(30))
    -> Bool
{
    // A pass's watermark is when it began, less the 1 ms allowed for a record stamped just
    // before it to reach its ring; a watermark past `now` is that of a pass begun after now.
    let now = KernelClock.now()
    return pollUntil(timeout: timeout) { (b.delivery.deliveredThrough ?? 0) > now }
}
