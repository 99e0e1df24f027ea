internal import CBCC

#if canImport(Glibc)
import Glibc
#endif

/// An epoll instance and an eventfd registered in it, owned together: what the polling
/// thread sleeps on. Both descriptors close when the last reference goes; the thread holds
/// one while it runs, so they are never closed under its `epoll_wait`.
package final class PollSet: Sendable {
    private let epoll: FileDescriptor
    private let wakeUp: FileDescriptor
    /// The identifier the wake-up eventfd is registered under; never reported by
    /// ``wait(timeoutMilliseconds:forEachReady:)``.
    package static let wakeID = UInt64.max

    package init() throws(SystemCallFailure) {
        epoll = FileDescriptor(adopting: try SystemCall.check("epoll_create1") { epoll_create1(Int32(EPOLL_CLOEXEC)) })
        wakeUp = FileDescriptor(
            adopting: try SystemCall.check("eventfd") { eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK)) })
        try add(wakeUp, id: Self.wakeID)
    }

    /// Watches `descriptor` for readability; its events carry `id`. `edgeTriggered`: reported
    /// once per wake-up of the descriptor, not for as long as it stays readable.
    package func add(
        _ descriptor: borrowing FileDescriptor, id: UInt64, edgeTriggered: Bool = false
    ) throws(SystemCallFailure) {
        var event = epoll_event()
        event.events = EPOLLIN.rawValue | (edgeTriggered ? EPOLLET.rawValue : 0)
        event.data.u64 = id
        try SystemCall.check("epoll_ctl") { epoll_ctl(epoll.rawValue, EPOLL_CTL_ADD, descriptor.rawValue, &event) }
    }

    /// Watches a perf ring: readable after its wake-up count of records.
    package func add(_ ring: PerfRing, id: UInt64) throws(SystemCallFailure) {
        try add(ring.event, id: id)
    }

    /// Watches a ring buffer: readable while records wait. `edgeTriggered` for a ring whose
    /// programs wake the reader themselves and which is drained on a timer too: a ring stays
    /// readable while its producers keep committing, and level-triggered, the reader would
    /// return from every wait at once to drain a few records each time.
    package func add(_ ring: BPFRingBuffer, id: UInt64, edgeTriggered: Bool = false) throws(SystemCallFailure) {
        try add(ring.pollable, id: id, edgeTriggered: edgeTriggered)
    }

    /// Stops watching `descriptor`.
    package func remove(_ descriptor: borrowing FileDescriptor) {
        _ = epoll_ctl(epoll.rawValue, EPOLL_CTL_DEL, descriptor.rawValue, nil)
    }

    package func remove(_ ring: PerfRing) {
        remove(ring.event)
    }

    package func remove(_ ring: BPFRingBuffer) {
        remove(ring.pollable)
    }

    /// Makes a ``wait(timeoutMilliseconds:)`` in progress (or the next one) return.
    package func wake() {
        var one: UInt64 = 1
        _ = write(wakeUp.rawValue, &one, MemoryLayout<UInt64>.size)
    }

    /// Sleeps until a watched descriptor is readable, a wake-up, or the time-out (-1: none),
    /// then calls `body` with the identifier of each descriptor that became ready (a
    /// wake-up's count is reset and not reported). Allocates nothing: the kernel writes the
    /// ready events to the stack, so a wake-up of the polling thread costs no heap traffic.
    package func wait(timeoutMilliseconds: Int32, forEachReady body: (UInt64) -> Void) throws(SystemCallFailure) {
        // 64 events of 12 bytes: within what Swift allocates on the stack.
        // The buffer is passed unwrapped: glibc 2.41 (Debian 13) declares `events` nonnull.
        try withUnsafeTemporaryAllocation(of: epoll_event.self, capacity: 64) {
            (events) throws(SystemCallFailure) in
            let count = try SystemCall.check("epoll_wait") {
                epoll_wait(epoll.rawValue, events.baseAddress!, Int32(events.count), timeoutMilliseconds)
            }
            for event in events.prefix(Int(count)) {
                if event.data.u64 == Self.wakeID {
                    var value: UInt64 = 0
                    _ = read(wakeUp.rawValue, &value, MemoryLayout<UInt64>.size)
                } else {
                    body(event.data.u64)
                }
            }
        }
    }
}
