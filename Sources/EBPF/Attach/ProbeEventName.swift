#if canImport(Glibc)
import Glibc
#endif

/// Names for the kprobe and uprobe events libbcc creates when the kernel has no probe PMU
/// and it must write to `kprobe_events`/`uprobe_events`.
///
/// They carry this process's pid, so two processes probing the same function do not remove
/// each other's event, and only `[A-Za-z0-9_]`, as tracefs requires.
enum ProbeEventName {
    static func make(_ prefix: String, _ target: String) -> String {
        let cleaned = String(
            target.unicodeScalars.map { scalar -> Character in
                let ok = scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar))
                return ok ? Character(scalar) : "_"
            })
        let suffix = "_ebpf_\(getpid())"
        return prefix + "_" + String(cleaned.suffix(60 - prefix.count - suffix.count)) + suffix
    }
}
