import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Names for the kprobe and uprobe events libbcc creates when the kernel has no probe PMU
/// and it must write to `kprobe_events`/`uprobe_events`.
///
/// They carry this process's pid and a number counted per process, so neither two processes
/// nor two attachments of one process to the same function share an event (the second
/// would fail to be created, or its detach would remove the first's), and only
/// `[A-Za-z0-9_]`, as tracefs requires.
enum ProbeEventName {
    private static let counter = Atomic<UInt64>(0)

    static func make(_ prefix: String, _ target: String) -> String {
        let cleaned = String(
            target.unicodeScalars.map { scalar -> Character in
                let ok = scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar))
                return ok ? Character(scalar) : "_"
            })
        let number = counter.add(1, ordering: .relaxed).newValue
        let suffix = "_ebpf_\(getpid())_\(number)"
        // tracefs allows 63 characters (MAX_EVENT_NAME_LEN with its NUL); 60 leaves room.
        return prefix + "_" + String(cleaned.suffix(59 - prefix.count - suffix.count)) + suffix
    }
}
