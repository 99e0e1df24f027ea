import HummingbirdCore
import NIOConcurrencyHelpers
import NIOCore

/// The gate that holds the listener to ``ServerLimits/maximumConnections`` exactly.
///
/// Hummingbird stops asking the listener for connections once the limit is reached, but
/// NIO accepts up to `maxMessagesPerRead` connections each time the listening socket wakes,
/// whatever the gate says. So the gate sets that count, before each wake-up, to the room
/// the limit leaves (at most 16 at once), and admits nothing until ``open(_:)`` has set it
/// the first time.
struct ConnectionLimit: AvailableConnectionsDelegate {
    let maximum: Int
    private let listener = NIOLockedValueBox<(any Channel)?>(nil)
    private var connections = 0

    init(_ maximum: Int) { self.maximum = maximum }

    // Both are called on the listener's event loop; connectionOpened within a batch of
    // accepts, whose size NIO fixed when the batch began, so a new size applies to the next.
    mutating func connectionOpened() {
        connections += 1
        acceptAtMost(room)
    }
    mutating func connectionClosed() {
        connections -= 1
        acceptAtMost(room)
    }
    func isAcceptingNewConnections() -> Bool { listener.withLockedValue { $0 != nil } && connections < maximum }

    /// Connections accepted at once: the room the limit leaves, at least 1 (the gate itself
    /// stops the listener when there is none) and at most 16.
    private var room: UInt { UInt(min(max(maximum - connections, 1), 16)) }

    private func acceptAtMost(_ count: UInt) {
        guard let listener = listener.withLockedValue({ $0 }) else { return }
        try? listener.syncOptions?.setOption(ChannelOptions.maxMessagesPerRead, value: count)
    }

    /// Sets what `listener` accepts at its first wake-up, then lets connections in (also if
    /// the option could not be set, which it can only on a listener already closed).
    func open(_ listener: any Channel) async throws {
        defer {
            self.listener.withLockedValue { $0 = listener }
            listener.read()
        }
        // Nothing was admitted before: the room is the whole limit.
        try await listener.setOption(ChannelOptions.maxMessagesPerRead, value: UInt(min(maximum, 16))).get()
    }
}
