import EBPFKernel
import EBPFProgram

/// A function of a program loaded into the kernel, from ``EBPFWrapper/loadFunction(_:type:)``
/// (bcc's `load_func`).
///
/// The handle owns a descriptor of its own for the loaded program: the kernel keeps the
/// program while it is open, even after the wrapper is closed, and it is closed by
/// ``close()`` or when the handle is freed. Use it where the kernel takes a program's
/// descriptor (a program array, a socket, a cgroup) through ``withFileDescriptor(_:)``.
public final class LoadedFunction: Sendable, CustomStringConvertible {
    /// The function's name in the program's C text.
    public let name: String
    /// The type it was loaded as.
    public let type: ProgramType
    private let descriptor: Lock<FileDescriptor?>

    init(name: String, type: ProgramType, descriptor: consuming FileDescriptor) {
        self.name = name
        self.type = type
        self.descriptor = Lock(Optional(descriptor))
    }

    /// Whether the handle's descriptor is still open.
    public var isOpen: Bool { descriptor.withLock { $0 != nil } }

    /// Runs `body` with the program's file descriptor, which is valid only during the call
    /// (``close()`` waits for it to return).
    ///
    /// - Throws: ``EBPFError/Code/closed`` once ``close()`` was called, and what `body` throws.
    public func withFileDescriptor<Result>(_ body: (Int32) throws -> Result) throws -> Result {
        try descriptor.withLock { (descriptor) throws -> Result in
            guard let open = descriptor.take() else {
                throw EBPFError(.closed, "the loaded function '\(name)' was closed; load it again")
            }
            let fd = open.rawValue
            descriptor = consume open
            // Still under the lock: close() waits for the call to end.
            return try body(fd)
        }
    }

    /// Closes the handle's descriptor (the program stays loaded while its wrapper or anything
    /// else holds it). Idempotent.
    public func close() {
        let taken = descriptor.withLock { $0.take() }
        _ = consume taken
    }

    public var description: String {
        "LoadedFunction(\(name), \(type)\(isOpen ? "" : ", closed"))"
    }
}
