#if canImport(Glibc)
import Glibc
#endif

/// ThreadSanitizer's annotations, when the process runs under it; nothing otherwise.
package enum ThreadSanitizer {
    private typealias Annotation = @convention(c) () -> Void

    private static let ignoreBegin = annotation("__tsan_ignore_thread_begin")
    private static let ignoreEnd = annotation("__tsan_ignore_thread_end")

    private static func annotation(_ name: String) -> Annotation? {
        dlsym(UnsafeMutableRawPointer(bitPattern: 0), name).map { unsafeBitCast($0, to: Annotation.self) }
    }

    /// Runs `body` with the calling thread's memory accesses hidden from ThreadSanitizer:
    /// for an order it cannot see, each use saying which.
    package static func unobserved<T>(_ body: () -> T) -> T {
        guard let ignoreBegin, let ignoreEnd else { return body() }
        ignoreBegin()
        defer { ignoreEnd() }
        return body()
    }
}
