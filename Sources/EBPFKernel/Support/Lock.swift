#if canImport(Glibc)
import Glibc
#endif

/// A value guarded by a `pthread_mutex_t`, with `Synchronization.Mutex`'s `withLock` shape.
///
/// Used instead of `Mutex` because on Linux `Mutex` waits on futexes directly, which
/// ThreadSanitizer does not model: it reports every access `Mutex` guards as a race, which
/// would bury real ones. ThreadSanitizer understands pthread mutexes (as swift-nio's
/// `NIOLock` relies on).
///
/// Sendable only when its value is, as swift-nio's `NIOLockedValueBox`.
package final class Lock<Value: ~Copyable> {
    // Inlinable (as its users sit in other targets of the package): an unspecialized
    // generic call per lock would cost every map and record path.
    @usableFromInline let mutex: UnsafeMutablePointer<pthread_mutex_t>
    @usableFromInline var value: Value

    package init(_ value: consuming Value) {
        self.value = value
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    @inlinable
    package func withLock<Result: ~Copyable, Failure: Error>(
        _ body: (inout Value) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}

// `value` is reached only inside withLock, under the mutex.
extension Lock: @unchecked Sendable where Value: ~Copyable & Sendable {}
