#if canImport(Glibc)
import Glibc
#endif

/// The one error type the EBPF module throws.
///
/// Every error carries a ``Code`` to switch on, a message that says what happened and what
/// to do, and where it applies the failing libbcc or system call, its `errno`, and the
/// compiler's diagnostics or the verifier's log.
///
/// Where a system call fails, its `errno` decides the code when it says more than the
/// call's own code would, the same for every call: `EPERM` and `EACCES` are
/// ``Code/permissionDenied``, `ENOENT` ``Code/notFound``, `EOPNOTSUPP`, `ENOTSUP` and
/// `ENOSYS` ``Code/notSupported``; any other `errno` gives the code the call documents
/// (``Code/attachFailed``, ``Code/loadFailed``, ``Code/systemCallFailed``). ``errno`` keeps
/// the number either way.
public struct EBPFError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The BPF C text did not compile; ``EBPFError/diagnostics`` holds clang's output.
        public static let compilationFailed = Code(rawValue: "compilation failed")
        /// The kernel rejected a program; ``EBPFError/diagnostics`` holds the verifier log.
        public static let loadFailed = Code(rawValue: "load failed")
        /// No function of that name in the compiled program.
        public static let functionNotFound = Code(rawValue: "function not found")
        /// No table (map) of that name in the compiled program.
        public static let tableNotFound = Code(rawValue: "table not found")
        /// The kernel or this build of libbcc lacks a feature.
        public static let notSupported = Code(rawValue: "not supported")
        /// The process lacks the privileges BPF needs (root, or CAP_BPF and CAP_PERFMON).
        public static let permissionDenied = Code(rawValue: "permission denied")
        /// The kernel refused to attach a program to an event.
        public static let attachFailed = Code(rawValue: "attach failed")
        /// A name, path or value given to the library is not acceptable.
        public static let invalidArgument = Code(rawValue: "invalid argument")
        /// A kernel event, symbol, binary or file does not exist.
        public static let notFound = Code(rawValue: "not found")
        /// tracefs is not mounted, so tracepoints and trace_pipe cannot be reached.
        public static let tracefsUnavailable = Code(rawValue: "tracefs unavailable")
        /// libbcc found no kernel headers to compile against.
        public static let kernelHeadersMissing = Code(rawValue: "kernel headers missing")
        /// A record or value could not be decoded with the layout libbcc described.
        public static let decodingFailed = Code(rawValue: "decoding failed")
        /// A tracepoint format file or folded stack text could not be parsed.
        public static let invalidFormat = Code(rawValue: "invalid format")
        /// The wrapper was closed; it cannot attach or open anything any more.
        public static let closed = Code(rawValue: "closed")
        /// A system call failed for another reason; see ``EBPFError/errno``.
        public static let systemCallFailed = Code(rawValue: "system call failed")
    }

    public var code: Code
    /// What happened and what to do about it.
    public var message: String
    /// The libbcc function or system call that failed, if one did.
    public var call: String?
    /// The `errno` captured right after ``call`` failed.
    public var errno: Int32?
    /// Compiler diagnostics or the verifier log, when the kernel or clang produced one.
    public var diagnostics: String?

    public init(
        _ code: Code, _ message: String, call: String? = nil, errno: Int32? = nil,
        diagnostics: String? = nil
    ) {
        self.code = code
        self.message = message
        self.call = call
        self.errno = errno
        self.diagnostics = diagnostics
    }

    public var description: String {
        var text = "EBPFError(\(code)): \(message)"
        if let call {
            text += " [\(call)"
            if let errno, errno != 0 {
                text += ": \(String(cString: strerror(errno))) (errno \(errno))"
            }
            text += "]"
        }
        if let diagnostics, !diagnostics.isEmpty {
            text += "\n" + diagnostics
        }
        return text
    }
}

extension EBPFError {
    /// Advice for kernels whose `kernel.perf_event_paranoid` is above 2, or "".
    ///
    /// Debian's and Ubuntu's kernels add a level 3 (Debian's default) at which opening any
    /// perf event -- which every tracepoint, kprobe, uprobe and perf-event attach does --
    /// needs CAP_SYS_ADMIN: CAP_PERFMON is not enough there.
    package static var perfEventParanoidAdvice: String {
        guard let text = try? SystemFiles.readText("/proc/sys/kernel/perf_event_paranoid"),
            let level = text.split(whereSeparator: \.isWhitespace).first.flatMap({ Int($0) }), level > 2
        else { return "" }
        return
            " This kernel sets kernel.perf_event_paranoid to \(level) (a Debian and Ubuntu extension), where opening a perf event, as every attach does, also needs CAP_SYS_ADMIN; add it, run as root, or lower the setting with `sysctl kernel.perf_event_paranoid=2`."
    }

    /// An error for a failed system or libbcc call, choosing the code from `errno` where it
    /// says more than the caller can (EPERM/EACCES, ENOENT, EOPNOTSUPP).
    package static func fromErrno(
        _ fallback: Code, _ message: String, call: String, errno: Int32
    ) -> EBPFError {
        switch errno {
        case EPERM, EACCES:
            return EBPFError(
                .permissionDenied,
                "\(message): permission denied. BPF needs root, or CAP_BPF with CAP_PERFMON (and CAP_SYS_ADMIN for some attach kinds).\(perfEventParanoidAdvice)",
                call: call, errno: errno)
        case ENOENT:
            return EBPFError(.notFound, message, call: call, errno: errno)
        case EOPNOTSUPP, ENOTSUP, ENOSYS:
            return EBPFError(.notSupported, message, call: call, errno: errno)
        default:
            return EBPFError(fallback, message, call: call, errno: errno)
        }
    }
}
