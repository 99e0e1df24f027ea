#if canImport(Glibc)
import Glibc
#endif
import Synchronization

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
    ///
    /// This is also the kernel boundary's seam for tests: a ``Fault`` injected for `call`
    /// fails it with that `errno` without running `body`, as the kernel would have.
    @discardableResult
    package static func check<T: SignedInteger>(
        _ call: String, _ body: () -> T
    ) throws(SystemCallFailure) -> T {
        if faultsInjected.load(ordering: .relaxed), let errno = Fault.take(call) {
            throw SystemCallFailure(call: call, errno: errno)
        }
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

    /// Whether any fault is injected: the one load a call pays when none is.
    private static let faultsInjected = Atomic<Bool>(false)
    /// A pthread mutex (``Lock``), not `Synchronization.Mutex`, whose futex ThreadSanitizer
    /// does not see: it reported the polling thread's check and the test's injection, both
    /// under the lock, as a race.
    private static let faults = Lock<[Fault]>([])

    /// A failure to inject: the `count` calls named `call` that follow the first `skip`
    /// fail with `errno`, their bodies not run. For tests of what a failing kernel leaves
    /// behind; ``injecting(_:_:)`` removes it again.
    package struct Fault: Sendable {
        package var call: String
        package var errno: Int32
        package var skip: Int
        package var count: Int

        package init(_ call: String, errno: Int32, skip: Int = 0, count: Int = 1) {
            self.call = call
            self.errno = errno
            self.skip = skip
            self.count = count
        }

        /// The errno the next call named `call` fails with, if a fault says it fails.
        fileprivate static func take(_ call: String) -> Int32? {
            faults.withLock { faults in
                guard let index = faults.firstIndex(where: { $0.call == call && $0.count > 0 }) else { return nil }
                if faults[index].skip > 0 {
                    faults[index].skip -= 1
                    return nil
                }
                faults[index].count -= 1
                return faults[index].errno
            }
        }
    }

    /// Runs `body` with `faults` injected for every thread, then removes them; returns what
    /// `body` returned and how many of the injected failures happened.
    package static func injecting<Result>(
        _ faults: [Fault], _ body: () throws -> Result
    ) rethrows -> (result: Result, failures: Int) {
        let injected = faults.reduce(0) { $0 + $1.count }
        Self.faults.withLock { $0 = faults }
        faultsInjected.store(true, ordering: .sequentiallyConsistent)
        defer {
            faultsInjected.store(false, ordering: .sequentiallyConsistent)
            Self.faults.withLock { $0 = [] }
        }
        let result = try body()
        let left = Self.faults.withLock { $0.reduce(0) { $0 + $1.count } }
        return (result, injected - left)
    }
}
