import Foundation

/// This process's memory as the kernel counts it (/proc/self/status), in KiB.
enum ProcessMemory {
    /// Resident now (VmRSS).
    static func residentKiB() -> Int { field("VmRSS:") }

    /// The peak resident size since the last ``resetPeak()`` (VmHWM).
    static func peakKiB() -> Int { field("VmHWM:") }

    /// Sets the peak to what is resident now (`5` into /proc/self/clear_refs, Linux 4.0+).
    static func resetPeak() {
        let fd = open("/proc/self/clear_refs", O_WRONLY)
        precondition(fd >= 0 && write(fd, "5", 1) == 1, "/proc/self/clear_refs: errno \(errno)")
        close(fd)
    }

    private static func field(_ name: String) -> Int {
        let status = KernelFiles.read("/proc/self/status") ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix(name) } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }
}
