import CCapabilities

#if canImport(Glibc)
import Glibc
#endif

/// The exporter's privileges once its programs are attached: it needs almost none of root's
/// to serve scrapes, so it gives them up, as ebpf_exporter does.
public enum Capabilities {
    /// `CAP_NET_BIND_SERVICE`: binding a port below 1024.
    public static let bindPrivilegedPort = 10
    /// `CAP_BPF` (Linux 5.8): reading the maps of programs already loaded. Until Linux 6.5
    /// every bpf(2) command needs it while `kernel.unprivileged_bpf_disabled` is set, as it
    /// is by default.
    public static let bpf = 39

    /// Lets ``dropAll(keeping:)`` reach every thread started after this call: call it first
    /// thing on the main thread, as threads inherit its signal mask.
    public static func prepareToDrop() {
        _ = ebpf_exporter_prepare_capability_drop()
    }

    /// Leaves every thread of the process with only the capabilities `keep` (those of them
    /// it has) in its permitted and effective sets, empties its ambient set and, given
    /// CAP_SETPCAP, its bounding set of the others, and sets no_new_privs: nothing the
    /// process runs can regain them, not even through exec. The
    /// user stays root (uid 0), so files root owns stay writable: closing the exporter still
    /// removes the probe events it created in tracefs.
    ///
    /// - Throws: ``CapabilityError`` when a thread could not drop them.
    public static func dropAll(keeping keep: [Int]) throws(CapabilityError) {
        let mask = keep.reduce(UInt64(0)) { $0 | (1 << UInt64($1)) }
        let result = ebpf_exporter_drop_capabilities(mask, 30_000)
        guard result == 0 else { throw CapabilityError(errno: result) }
    }
}

/// Capabilities that could not be dropped.
public struct CapabilityError: Error, Sendable, CustomStringConvertible {
    public var errno: Int32

    public var description: String {
        switch errno {
        case ETIMEDOUT:
            return
                "could not drop capabilities: a thread did not take the signal that drops them within 30 s (one started before Capabilities.prepareToDrop(), with the signal blocked); run with --keep-capabilities to serve with root's"
        default:
            return "could not drop capabilities: \(String(cString: strerror(errno))); run with --keep-capabilities"
        }
    }
}
