#if canImport(Glibc)
import Glibc
#endif

/// A system or libbcc call that failed: its name and the `errno` it left. The kernel layer
/// throws it; the public API turns it into an ``EBPFError`` that says what was being done.
package struct SystemCallFailure: Error, Equatable {
    package var call: String
    package var errno: Int32

    /// The public error for this failure while doing `action` (see ``EBPFError/fromErrno(_:_:call:errno:)``).
    package func error(_ fallback: EBPFError.Code, _ action: String) -> EBPFError {
        EBPFError.fromErrno(fallback, action, call: call, errno: errno)
    }
}

/// The one place that reads `errno`: every call of the kernel layer goes through these.
package enum SystemCall {
    /// Runs a call that returns a negative value on failure and sets `errno`; returns the
    /// value, or throws with the `errno` read right after the call. `EINTR` is retried.
    @discardableResult
    package static func check<T: SignedInteger>(
        _ call: String, _ body: () -> T
    ) throws(SystemCallFailure) -> T {
        while true {
            Glibc.errno = 0
            let value = body()
            if value >= 0 { return value }
            let error = Glibc.errno
            if error == EINTR { continue }
            // libbcc returns -1 for some failures without setting errno.
            throw SystemCallFailure(call: call, errno: error == 0 ? EINVAL : error)
        }
    }
}
