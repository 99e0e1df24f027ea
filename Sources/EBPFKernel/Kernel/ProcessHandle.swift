internal import CKernelABI

#if canImport(Glibc)
import Glibc
#endif

/// One process, as opposed to whichever process has its pid now: a pidfd (Linux 5.3+),
/// else the process's start time (clock ticks since boot, which two processes started in the
/// same tick share).
package final class ProcessHandle: Sendable {
    package let pid: Int32
    /// Owns the pidfd; `pidfd` is its number.
    private let pidfdOwner: FileDescriptor?
    private let pidfd: Int32?
    private let startTime: UInt64?

    /// nil when no process has `pid`.
    package init?(pid: Int32) {
        let opened = cka_pidfd_open(pid)
        if opened >= 0 {
            pidfdOwner = FileDescriptor(adopting: opened)
            pidfd = opened
            startTime = nil
        } else {
            guard errno != ESRCH, let time = Self.startTime(of: pid) else { return nil }
            pidfdOwner = nil
            pidfd = nil
            startTime = time
        }
        self.pid = pid
    }

    /// Whether the process still runs under its pid (not exited, the pid not reused).
    package var isCurrent: Bool {
        if let startTime { return Self.startTime(of: pid) == startTime }
        guard let pidfd else { return false }
        return !Self.hasExited(pidfd)
    }

    /// A pidfd polls readable once its process has exited.
    private static func hasExited(_ pidfd: Int32) -> Bool {
        var descriptor = pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, 0) != 0
    }

    /// Field 22 of /proc/<pid>/stat; nil when the process is gone.
    private static func startTime(of pid: Int32) -> UInt64? {
        guard let stat = try? SystemFiles.readText("/proc/\(pid)/stat"), let end = stat.lastIndex(of: ")") else {
            return nil
        }
        // After the command name in parentheses: field 3 (state) onwards.
        let fields = stat[stat.index(after: end)...].split(separator: " ")
        return fields.count > 19 ? UInt64(fields[19]) : nil
    }
}
