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
    /// The descriptor, closed when the last reference goes: the handle's until ``close()``,
    /// and each running ``withFileDescriptor(_:)`` call's.
    private final class Descriptor: Sendable {
        let owned: FileDescriptor
        init(_ owned: consuming FileDescriptor) { self.owned = owned }
    }
    private let descriptor: Lock<Descriptor?>

    init(name: String, type: ProgramType, descriptor: consuming FileDescriptor) {
        self.name = name
        self.type = type
        self.descriptor = Lock(Descriptor(descriptor))
    }

    /// Whether ``close()`` has not been called yet.
    public var isOpen: Bool { descriptor.withLock { $0 != nil } }

    /// Runs `body` with the program's file descriptor, which stays open during the call even
    /// if another thread calls ``close()`` meanwhile.
    ///
    /// - Throws: ``EBPFError/Code/closed`` once ``close()`` was called, and what `body` throws.
    public func withFileDescriptor<Result>(_ body: (Int32) throws -> Result) throws -> Result {
        guard let held = descriptor.withLock({ $0 }) else {
            throw EBPFError(.closed, "the loaded function '\(name)' was closed; load it again")
        }
        return try withExtendedLifetime(held) { try held.owned.withNumberForUser(body) }
    }

    /// Closes the handle's descriptor, at once or when a running ``withFileDescriptor(_:)``
    /// call returns (the program stays loaded while its wrapper or anything else holds it).
    /// Idempotent.
    public func close() {
        let taken = descriptor.withLock { descriptor -> Descriptor? in
            defer { descriptor = nil }
            return descriptor
        }
        _ = taken
    }

    public var description: String {
        "LoadedFunction(\(name), \(type)\(isOpen ? "" : ", closed"))"
    }
}
