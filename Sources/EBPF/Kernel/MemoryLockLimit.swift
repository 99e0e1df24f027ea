#if canImport(Glibc)
import Glibc
#endif

/// The process's locked-memory limit (`RLIMIT_MEMLOCK`), which kernels before 5.11 charge
/// every BPF map and program to: 64 KiB by default (Debian 11's 5.10), so even root's loads
/// fail with EPERM until it is raised. libbcc raises it when its own loads are refused, and
/// bcc's Python tools and bpftrace raise it at start; the library's own loads do so the same
/// way, only when the kernel refuses one.
enum MemoryLockLimit {
    /// Runs `body`; when it fails with EPERM under a finite limit, raises the limit to
    /// infinity (or, without `CAP_SYS_RESOURCE`, to the hard limit) and runs it once more.
    static func raisedOnRefusal<T>(_ body: () throws(SystemCallFailure) -> T) throws(SystemCallFailure) -> T {
        do {
            return try body()
        } catch  where error.errno == EPERM && raise() {
            return try body()
        }
    }

    /// Raises the limit; false when it is already as high as it can go.
    static func raise() -> Bool {
        var limit = rlimit()
        guard getrlimit(RLIMIT_MEMLOCK_ID, &limit) == 0, limit.rlim_cur != unlimitedValue else { return false }
        var unlimited = rlimit(rlim_cur: unlimitedValue, rlim_max: unlimitedValue)
        if setrlimit(RLIMIT_MEMLOCK_ID, &unlimited) == 0 { return true }
        guard limit.rlim_cur < limit.rlim_max else { return false }
        var hard = rlimit(rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max)
        return setrlimit(RLIMIT_MEMLOCK_ID, &hard) == 0
    }

    /// `RLIM_INFINITY`, which Swift imports as an overflowing literal.
    private static let unlimitedValue = rlim_t.max

    /// Glibc declares `RLIMIT_MEMLOCK` as a macro over this enum case, which Swift does not import.
    private static let RLIMIT_MEMLOCK_ID = __rlimit_resource_t(__RLIMIT_MEMLOCK.rawValue)
}
