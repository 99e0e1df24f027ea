@_spi(Generator) @testable import EBPF
import Foundation
@testable import EBPFKernel

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

    /// Resident KiB of the compiler libraries' executable mappings in process `pid` (this
    /// one by default), from its smaps.
    static func compilerCodeResidentKiB(of pid: String = "self") -> Int {
        let smaps = KernelFiles.read("/proc/\(pid)/smaps") ?? ""
        var total = 0
        var counting = false
        for line in smaps.split(separator: "\n") {
            let columns = line.split(separator: " ", omittingEmptySubsequences: true)
            if let first = columns.first, first.contains("-"), !first.hasSuffix(":") {
                counting =
                    columns.count >= 6 && columns[1] == "r-xp"
                    && CompilerMemory.compilerLibraries.contains { columns[5].contains($0) }
            } else if counting, columns.first == "Rss:", columns.count >= 2 {
                total += Int(columns[1]) ?? 0
            }
        }
        return total
    }

    private static func field(_ name: String) -> Int {
        let status = KernelFiles.read("/proc/self/status") ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix(name) } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }
}
