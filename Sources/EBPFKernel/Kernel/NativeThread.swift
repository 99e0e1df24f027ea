#if canImport(Glibc)
import Glibc
#endif

/// A POSIX thread, for the polling loop that must not run on the Swift concurrency pool
/// (it blocks in `epoll_wait` and runs user callbacks).
package struct NativeThread: Sendable {
    private let handle: pthread_t

    /// Starts `body` on a new thread.
    package static func start(_ body: @escaping @Sendable () -> Void) throws(SystemCallFailure) -> NativeThread {
        final class Box {
            let body: @Sendable () -> Void
            init(_ body: @escaping @Sendable () -> Void) { self.body = body }
        }
        let context = Unmanaged.passRetained(Box(body)).toOpaque()
        var handle = pthread_t()
        let rc = pthread_create(
            &handle, nil,
            { context in
                Unmanaged<Box>.fromOpaque(context!).takeRetainedValue().body()
                return nil
            }, context)
        guard rc == 0 else {
            Unmanaged<Box>.fromOpaque(context).release()
            throw SystemCallFailure(call: "pthread_create", errno: rc)
        }
        return NativeThread(handle: handle)
    }

    /// The calling thread.
    package static var current: NativeThread { NativeThread(handle: pthread_self()) }

    /// A number that identifies the thread while it runs (never 0).
    package var id: UInt { UInt(handle) }

    /// Waits for the thread to end. At most one caller may join, and only a thread not detached.
    package func join() {
        pthread_join(handle, nil)
    }

    /// Lets the thread free itself when it ends, for a thread nobody will join.
    package func detach() {
        pthread_detach(handle)
    }
}
