import HummingbirdCore
import NIOConcurrencyHelpers
import NIOCore

/// The gate that holds the listener to ``ServerLimits/maximumConnections`` exactly.
///
/// Hummingbird stops asking the listener for connections once the limit is reached, but
/// NIO accepts up to `maxMessagesPerRead` (4 by default) connections each time the listening
/// socket wakes, whatever the gate says, so a burst could go 3 past the limit. The gate
/// admits nothing until ``open(_:)`` has set the listener to accept one connection per
/// wake-up; from then on each accept is checked against the limit.
struct ConnectionLimit: AvailableConnectionsDelegate {
    let maximum: Int
    private let opened = NIOLockedValueBox(false)
    private var connections = 0

    init(_ maximum: Int) { self.maximum = maximum }

    mutating func connectionOpened() { connections += 1 }
    mutating func connectionClosed() { connections -= 1 }
    func isAcceptingNewConnections() -> Bool { opened.withLockedValue { $0 } && connections < maximum }

    /// Sets `listener` to accept one connection per wake-up, then lets connections in (also
    /// if the option could not be set, which it can only on a listener already closed).
    func open(_ listener: any Channel) async throws {
        defer {
            opened.withLockedValue { $0 = true }
            listener.read()
        }
        try await listener.setOption(ChannelOptions.maxMessagesPerRead, value: 1).get()
    }
}
