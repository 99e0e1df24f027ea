internal import CBCC

#if canImport(Glibc)
import Glibc
#endif

/// An epoll instance and an eventfd registered in it, owned together: what the polling
/// thread sleeps on. Both descriptors close when the last reference goes; the thread holds
/// one while it runs, so they are never closed under its `epoll_wait`.
final class PollSet: Sendable {
    private let epoll: FileDescriptor
    private let wakeUp: FileDescriptor
    /// The identifier ``wait(timeoutMilliseconds:)`` reports for a ``wake()``.
    static let wakeID = UInt64.max

    init() throws(SystemCallFailure) {
        epoll = FileDescriptor(adopting: try SystemCall.check("epoll_create1") { epoll_create1(Int32(EPOLL_CLOEXEC)) })
        wakeUp = FileDescriptor(
            adopting: try SystemCall.check("eventfd") { eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK)) })
        try add(wakeUp.rawValue, id: Self.wakeID)
    }

    /// Watches `fd` for readability; its events carry `id`.
    func add(_ fd: Int32, id: UInt64) throws(SystemCallFailure) {
        var event = epoll_event()
        event.events = EPOLLIN.rawValue
        event.data.u64 = id
        try SystemCall.check("epoll_ctl") { epoll_ctl(epoll.rawValue, EPOLL_CTL_ADD, fd, &event) }
    }

    /// Stops watching `fd`.
    func remove(_ fd: Int32) {
        _ = epoll_ctl(epoll.rawValue, EPOLL_CTL_DEL, fd, nil)
    }

    /// Makes a ``wait(timeoutMilliseconds:)`` in progress (or the next one) return.
    func wake() {
        var one: UInt64 = 1
        _ = write(wakeUp.rawValue, &one, MemoryLayout<UInt64>.size)
    }

    /// Sleeps until a watched descriptor is readable, a wake-up, or the time-out (-1: none);
    /// returns the identifiers of what became ready, ``wakeID`` included (its count is reset).
    func wait(timeoutMilliseconds: Int32) throws(SystemCallFailure) -> [UInt64] {
        var events = [epoll_event](repeating: epoll_event(), count: 64)
        let count = try events.withUnsafeMutableBufferPointer { (buffer) throws(SystemCallFailure) in
            try SystemCall.check("epoll_wait") {
                epoll_wait(epoll.rawValue, buffer.baseAddress, Int32(buffer.count), timeoutMilliseconds)
            }
        }
        let ids = events.prefix(Int(count)).map(\.data.u64)
        if ids.contains(Self.wakeID) {
            var value: UInt64 = 0
            _ = read(wakeUp.rawValue, &value, MemoryLayout<UInt64>.size)
        }
        return ids
    }
}
