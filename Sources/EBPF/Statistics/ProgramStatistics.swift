import EBPFKernel

#if canImport(Glibc)
import Glibc
#endif

/// What the kernel counts for a BPF program: how often it ran and for how long in all.
///
/// The kernel counts only while run-time statistics are on: while a ``Recording`` is open
/// (`BPF_ENABLE_STATS`, Linux 5.8), or while the sysctl `kernel.bpf_stats_enabled` is 1.
/// Counting costs every BPF program on the machine about two clock reads per run, which is
/// why it is off by default. A program reached by a tail call counts nothing of its own: its
/// runs and time are its caller's.
///
/// ```swift
/// let recording = try ProgramStatistics.Recording()
/// defer { recording.close() }
/// for program in ProgramStatistics.ofThisProcess() {
///     print(program.name, program.runCount, program.runTime)
/// }
/// ```
public struct ProgramStatistics: Sendable, Hashable {
    /// The kernel's id of the program (bpftool's).
    public var id: UInt32
    public var type: ProgramType
    /// The name the program was loaded with: its first 15 characters.
    public var name: String
    /// A hash of its instructions, in hex, as bpftool shows it.
    public var tag: String
    /// Runs counted while statistics were on.
    public var runCount: UInt64
    /// Time spent running, counted while statistics were on.
    public var runTime: Duration

    /// Every BPF program this process holds, once each, in id order: the programs of every
    /// wrapper, probe and aggregation it has open, and any it loaded otherwise.
    public static func ofThisProcess() -> [ProgramStatistics] {
        ProgramInfoCalls.programsOfThisProcess().map { info in
            ProgramStatistics(
                id: info.id, type: ProgramType(rawValue: Int32(bitPattern: info.type)), name: info.name, tag: info.tag,
                runCount: info.runCount, runTime: .nanoseconds(Int64(clamping: info.runTimeNanoseconds)))
        }
    }

    /// Whether the kernel counts now because of the sysctl `kernel.bpf_stats_enabled`
    /// (rather than a ``Recording``).
    public static var isEnabledBySysctl: Bool {
        (try? SystemFiles.readText("/proc/sys/kernel/bpf_stats_enabled"))?.hasPrefix("1") ?? false
    }

    /// Run-time statistics, on for every program on the machine while this is open, and off
    /// again when the last recording on the machine closes.
    public final class Recording: Sendable {
        private let descriptor: Lock<FileDescriptor?>

        /// Turns counting on.
        ///
        /// - Throws: ``EBPFError/Code/permissionDenied`` without `CAP_SYS_ADMIN`;
        ///   ``EBPFError/Code/notSupported`` before Linux 5.8 (set the sysctl
        ///   `kernel.bpf_stats_enabled` to 1 instead).
        public init() throws(EBPFError) {
            do {
                descriptor = Lock(try ProgramInfoCalls.enableRunTimeStatistics())
            } catch {
                throw error.errno == EINVAL
                    ? EBPFError(
                        .notSupported,
                        "this kernel has no BPF_ENABLE_STATS (Linux 5.8 added it); set the sysctl kernel.bpf_stats_enabled to 1 instead",
                        call: error.call, errno: error.errno)
                    : error.error(.systemCallFailed, "could not turn BPF run-time statistics on")
            }
        }

        /// Whether ``close()`` has not been called yet.
        public var isOpen: Bool { descriptor.withLock { $0 != nil } }

        /// Stops this recording. Idempotent.
        public func close() {
            descriptor.withLock { descriptor in
                let taken = descriptor.take()
                taken?.close()
            }
        }
    }
}
