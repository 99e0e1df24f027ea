import Foundation

/// Reads procfs, sysfs and tracefs files to their end.
///
/// Not `String(contentsOfFile:)`: these files report a size of 0, and Foundation then reads
/// one page only. /proc/self/maps of a test process (25 KB) came back as its first 3,988
/// bytes, and kprobe_events would be cut the same way once it grows.
enum KernelFiles {
    /// The whole file, or nil when it cannot be opened.
    static func read(_ path: String) -> String? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        // readToEnd() returns nil for an empty file.
        guard let data = try? handle.readToEnd() ?? Data() else { return nil }
        return String(decoding: data, as: UTF8.self)
    }
}
