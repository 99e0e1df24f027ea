#if canImport(Glibc)
import Glibc
#endif
import EBPFKernel

/// Where the kernel's tracing file system is mounted.
///
/// Modern kernels mount tracefs at `/sys/kernel/tracing`; older set-ups reach it through
/// debugfs at `/sys/kernel/debug/tracing`. The library looks in that order, the same two
/// places libbcc uses.
public enum Tracefs {
    static let candidates = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]

    /// The mounted tracefs directory.
    ///
    /// - Throws: ``EBPFError/Code/tracefsUnavailable`` with the command that mounts it.
    public static func root() throws(EBPFError) -> String {
        for path in candidates where SystemFiles.isDirectory(path + "/events") {
            return path
        }
        if let forbidden = candidates.first(where: { SystemFiles.isForbidden($0 + "/events") }) {
            throw EBPFError(
                .permissionDenied,
                "tracefs at \(forbidden) is mounted but this process may not read it: run as root, or with CAP_DAC_READ_SEARCH beside CAP_BPF and CAP_PERFMON",
                call: "stat", errno: EACCES)
        }
        throw EBPFError(
            .tracefsUnavailable,
            "tracefs is not mounted (looked in \(candidates.joined(separator: " and "))). Mount it as root with `mount -t tracefs tracefs /sys/kernel/tracing` (or add that mount to /etc/fstab)"
        )
    }

    /// The directory of one tracepoint, after checking that both parts are plain names and
    /// that the kernel has that tracepoint.
    ///
    /// - Throws: ``EBPFError/Code/invalidArgument`` for a malformed name,
    ///   ``EBPFError/Code/notFound`` for a tracepoint this kernel does not have.
    static func tracepointDirectory(category: String, name: String) throws(EBPFError) -> String {
        let directory = try tracepointPath(category: category, name: name)
        guard SystemFiles.isDirectory(directory) else {
            throw EBPFError(
                .notFound,
                "this kernel has no tracepoint \(category):\(name) (no \(directory)); list the available ones with `ls \(try root())/events/\(category)` or read available_events"
            )
        }
        return directory
    }

    /// Where one tracepoint's directory is, after checking that both parts are plain names,
    /// without looking whether it is there.
    ///
    /// - Throws: ``EBPFError/Code/invalidArgument`` for a malformed name.
    static func tracepointPath(category: String, name: String) throws(EBPFError) -> String {
        try NameValidation.tracepointComponent(category, what: "tracepoint category")
        try NameValidation.tracepointComponent(name, what: "tracepoint name")
        return try root() + "/events/\(category)/\(name)"
    }

    /// Splits `"category:name"` as bcc's `tp=` argument is written.
    static func splitTracepoint(_ tp: String) throws(EBPFError) -> (category: String, name: String) {
        let parts = tp.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else {
            throw EBPFError(
                .invalidArgument,
                "the tracepoint \(NameValidation.quoted(tp)) is not of the form \"category:name\", e.g. \"syscalls:sys_enter_bind\""
            )
        }
        return (String(parts[0]), String(parts[1]))
    }
}
