import EBPFKernel
import EBPFProgram

/// A function of a program loaded into the kernel, from ``EBPFWrapper/loadFunction(_:type:)``
/// (bcc's `load_func`).
///
/// The handle owns a descriptor of its own for the loaded program, closed by ``close()`` or
/// by the wrapper's `close()` (the wrapper keeps the handle until then). Use it where the kernel takes a
/// program's descriptor (a program array, a socket, a cgroup) through
/// ``withFileDescriptor(_:)``; to keep the program past the wrapper, duplicate the
/// descriptor there (`dup(fd)`), which is then yours to close.
public final class LoadedFunction: Sendable, CustomStringConvertible {
    /// The function's name in the program's C text.
    public let name: String
    /// The type it was loaded as.
    public let type: ProgramType
    private let descriptor: LentDescriptor

    init(name: String, type: ProgramType, descriptor: consuming FileDescriptor) {
        self.name = name
        self.type = type
        self.descriptor = LentDescriptor(descriptor)
    }

    /// Whether ``close()`` has not been called yet.
    public var isOpen: Bool { descriptor.isOpen }

    /// Runs `body` with the program's file descriptor, which stays open during the call even
    /// if another thread calls ``close()`` meanwhile.
    ///
    /// - Throws: ``EBPFError/Code/closed`` once ``close()`` was called, and what `body` throws.
    public func withFileDescriptor<Result>(_ body: (Int32) throws -> Result) throws -> Result {
        try descriptor.withFileDescriptor(
            closed: EBPFError(.closed, "the loaded function '\(name)' was closed; load it again"), body)
    }

    /// Runs `body` with the descriptor lent, for the library's own calls.
    func withDescriptor<T>(_ body: (borrowing BorrowedDescriptor) throws(EBPFError) -> T) throws(EBPFError) -> T {
        guard let held = descriptor.hold() else {
            throw EBPFError(.closed, "the loaded function '\(name)' was closed; load it again")
        }
        return try held.owned.lend(body)
    }

    /// Closes the handle's descriptor, at once or when a running ``withFileDescriptor(_:)``
    /// call returns (the program stays loaded while its wrapper or anything else holds it).
    /// Idempotent.
    public func close() {
        descriptor.close()
    }

    public var description: String {
        "LoadedFunction(\(name), \(type)\(isOpen ? "" : ", closed"))"
    }
}
