#if canImport(Glibc)
import Glibc
#endif

/// The process's locked-memory limit (`RLIMIT_MEMLOCK`), which kernels before 5.11 charge
/// every BPF map and program to: 64 KiB by default (Debian 11's 5.10), so even root's loads
/// fail with EPERM until it is raised. libbcc raises it when its own loads are refused, and
/// bcc's Python tools and bpftrace raise it at start; the library's own loads do so only on
/// such a kernel, and only when it refuses one. Newer kernels charge the memory cgroup, and
/// there the limit is left alone.
package enum MemoryLockLimit {
    /// Whether the running kernel charges BPF memory to the limit (before 5.11).
    package static let isChargedForBPF: Bool = {
        let release = CacheFiles.kernelRelease().split(separator: ".").prefix(2).map { Int($0.prefix { $0.isNumber }) }
        guard release.count == 2, let major = release[0], let minor = release[1] else { return false }
        return (major, minor) < (5, 11)
    }()

    /// Runs `body`; on a kernel that charges the limit, when `body` fails with EPERM, raises
    /// the limit to infinity (or, without `CAP_SYS_RESOURCE`, to the hard limit) and runs it
    /// once more. Also once more when another thread raised it meanwhile.
    package static func raisedOnRefusal<T>(_ body: () throws(SystemCallFailure) -> T) throws(SystemCallFailure) -> T {
        guard isChargedForBPF else { return try body() }
        let before = current()
        do {
            return try body()
        } catch  where error.errno == EPERM && (current() != before || raise()) {
            return try body()
        }
    }

    /// The soft limit now.
    package static func current() -> rlim_t {
        var limit = rlimit()
        return getrlimit(resource, &limit) == 0 ? limit.rlim_cur : 0
    }

    /// Raises the limit; false when it is already as high as it can go.
    private static func raise() -> Bool {
        var limit = rlimit()
        guard getrlimit(resource, &limit) == 0, limit.rlim_cur != unlimited else { return false }
        var raised = rlimit(rlim_cur: unlimited, rlim_max: unlimited)
        if setrlimit(resource, &raised) == 0 { return true }
        guard limit.rlim_cur < limit.rlim_max else { return false }
        var hard = rlimit(rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max)
        return setrlimit(resource, &hard) == 0
    }

    /// `RLIM_INFINITY`, which Swift imports as an overflowing literal.
    private static let unlimited = rlim_t.max

    /// Glibc declares `RLIMIT_MEMLOCK` as a macro over this enum case, which Swift does not import.
    private static let resource = __rlimit_resource_t(__RLIMIT_MEMLOCK.rawValue)
}
