import EBPFKernel

/// A socket with a socket filter program on it: the packets the program keeps, read here.
///
/// From ``EBPFWrapper/openRawSocket(function:interface:)`` (bcc's `attach_raw_socket`: a raw
/// socket of one interface's packets, both directions, from the Ethernet header on) or
/// ``EBPFWrapper/attachSocketFilter(function:socket:)`` (a socket of yours). The program
/// runs on every packet before the socket queues it; its return value is how many bytes to
/// keep (0 drops the packet, -1 keeps all of it).
///
/// ``close()`` (or the wrapper's) ends it: a raw socket is closed, and a socket of yours
/// loses the filter and stays yours.
public final class PacketSocket: Sendable, CustomStringConvertible {
    /// The filter's function in the program's C text.
    public let functionName: String
    /// The interface a raw socket receives from; nil for a socket of yours.
    public let interface: String?

    /// The socket; a socket of yours loses the filter before this duplicate of it closes.
    private let descriptor: LentDescriptor

    init(functionName: String, interface: String?, socket: consuming FileDescriptor, ownedByCaller: Bool) {
        self.functionName = functionName
        self.interface = interface
        descriptor =
            ownedByCaller
            ? LentDescriptor(socket, beforeClosing: { PacketSockets.removeFilter(from: $0) })
            : LentDescriptor(socket)
    }

    /// Whether ``close()`` has not been called yet.
    public var isOpen: Bool { descriptor.isOpen }

    /// The next packet the filter kept (at most 64 KiB of it), waiting up to `timeout` for
    /// one (nil: until one comes or the socket is closed).
    ///
    /// - Returns: The packet's bytes, or nil when `timeout` passed or the socket was closed
    ///   meanwhile.
    /// - Throws: ``EBPFError/Code/closed`` once ``close()`` was called;
    ///   ``EBPFError/Code/systemCallFailed`` when the read fails.
    public func receive(timeout: Duration? = nil) throws(EBPFError) -> [UInt8]? {
        guard let held = descriptor.hold() else { throw Self.closed }
        let deadline = timeout.map { ContinuousClock.now + $0 }
        var buffer = [UInt8](repeating: 0, count: 65536)
        while isOpen {
            do throws(SystemCallFailure) {
                let length = try buffer.withUnsafeMutableBytes { bytes in
                    Result { () throws(SystemCallFailure) in try PacketSockets.receive(from: held.owned, into: bytes) }
                }.get()
                if let length { return Array(buffer[..<length]) }
                let left = deadline.map { ContinuousClock.now.duration(to: $0) }
                if let left, left <= .zero { return nil }
                // Slices of at most 100 ms, so a close() from another thread ends the wait.
                let slice = min(left ?? .milliseconds(100), .milliseconds(100))
                let milliseconds =
                    slice.components.seconds * 1000 + slice.components.attoseconds / 1_000_000_000_000_000
                _ = try held.owned.waitReadable(milliseconds: Int32(max(1, milliseconds)))
            } catch {
                throw error.error(.systemCallFailed, "could not read from the packet socket of '\(functionName)'")
            }
        }
        return nil
    }

    /// Runs `body` with the socket's file descriptor (a raw socket's, or this handle's
    /// duplicate of yours), open during the call even if another thread calls ``close()``.
    ///
    /// - Throws: ``EBPFError/Code/closed`` once ``close()`` was called, and what `body` throws.
    public func withFileDescriptor<Result>(_ body: (Int32) throws -> Result) throws -> Result {
        try descriptor.withFileDescriptor(closed: Self.closed, body)
    }

    /// Ends the filter: closes a raw socket, or takes the filter off a socket of yours (at
    /// once, or when a running call returns). Idempotent.
    public func close() {
        descriptor.close()
    }

    private static var closed: EBPFError {
        EBPFError(.closed, "this packet socket was closed; attach the filter again")
    }

    public var description: String {
        "PacketSocket(\(interface ?? "your socket") -> \(functionName)\(isOpen ? "" : ", closed"))"
    }
}
