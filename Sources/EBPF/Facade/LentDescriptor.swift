import EBPFKernel

/// A descriptor a public handle owns until its `close()`, lent meanwhile to the handle's
/// user as a number (``LoadedFunction``, ``PacketSocket``; bcc's `fn.fd`).
///
/// The descriptor is closed when the last reference to it goes: the handle's until
/// ``close()``, and each running ``withFileDescriptor(closed:_:)`` call's, so a number lent
/// to a call is never closed (or reused) under it.
final class LentDescriptor: Sendable {
    /// The descriptor, and what to do before it closes.
    final class Held: Sendable {
        let owned: FileDescriptor
        private let beforeClosing: @Sendable (borrowing FileDescriptor) -> Void

        init(_ owned: consuming FileDescriptor, beforeClosing: @escaping @Sendable (borrowing FileDescriptor) -> Void) {
            self.owned = owned
            self.beforeClosing = beforeClosing
        }

        deinit { beforeClosing(owned) }
    }

    private let held: Lock<Held?>

    init(
        _ owned: consuming FileDescriptor,
        beforeClosing: @escaping @Sendable (borrowing FileDescriptor) -> Void = { _ in }
    ) {
        held = Lock(Held(owned, beforeClosing: beforeClosing))
    }

    /// Whether ``close()`` has not been called yet.
    var isOpen: Bool { held.withLock { $0 != nil } }

    /// The descriptor, held open by the caller's reference; nil once closed.
    func hold() -> Held? { held.withLock { $0 } }

    /// Runs `body` with the number, open during the call even if another thread closes.
    ///
    /// - Throws: `closed` once ``close()`` was called, and what `body` throws.
    func withFileDescriptor<Result>(closed: @autoclosure () -> EBPFError, _ body: (Int32) throws -> Result) throws
        -> Result
    {
        guard let held = hold() else { throw closed() }
        return try withExtendedLifetime(held) { try held.owned.withNumberForUser(body) }
    }

    /// Lets the handle's reference go: the descriptor closes now, or when the last running
    /// call returns. Idempotent.
    func close() {
        let taken = held.withLock { held -> Held? in
            defer { held = nil }
            return held
        }
        _ = taken
    }
}
