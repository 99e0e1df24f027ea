#if canImport(Glibc)
import Glibc
#endif

/// Small reads of kernel files (/proc, /sys, tracefs) without Foundation.
package enum SystemFiles {
    /// Whether `path` exists, as the process's effective credentials see it. (Not access(2),
    /// which checks with the real uid and drops every capability when that is not root, so
    /// a process running with CAP_DAC_READ_SEARCH would find nothing under tracefs.)
    package static func exists(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0
    }

    /// Whether stat(2) on `path` fails for lack of permission (the path may well exist).
    package static func isForbidden(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) != 0 && (errno == EACCES || errno == EPERM)
    }

    /// unlink(2).
    package static func remove(_ path: String) throws(SystemCallFailure) {
        try SystemCall.check("unlink") { unlink(path) }
    }

    package static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// The whole file as text. Kernel pseudo-files report size 0, so this reads until EOF.
    package static func readText(_ path: String) throws(EBPFError) -> String {
        do {
            let bytes = try FileDescriptor.open(path, O_RDONLY).readToEnd()
            return String(decoding: bytes, as: UTF8.self)
        } catch {
            throw error.error(.systemCallFailed, "could not \(error.call) \(path)")
        }
    }

    /// The whole file's bytes; nil when it cannot be opened or read.
    package static func readBytes(_ path: String) -> [UInt8]? {
        try? FileDescriptor.open(path, O_RDONLY).readToEnd()
    }

    /// Parses a kernel CPU list such as `0-3,5,7-8` (/sys/devices/system/cpu/online).
    package static func parseCPUList(_ text: String) -> [Int32] {
        var cpus: [Int32] = []
        for part in text.split(whereSeparator: { $0 == "," || $0.isWhitespace }) {
            let bounds = part.split(separator: "-", maxSplits: 1).compactMap { Int32($0) }
            if bounds.count == 2, bounds[0] <= bounds[1] {
                cpus.append(contentsOf: bounds[0]...bounds[1])
            } else if bounds.count == 1 {
                cpus.append(bounds[0])
            }
        }
        return cpus
    }

    /// The CPUs this kernel can ever bring online (per-CPU maps have a slot for each).
    package static func possibleCPUs() throws(EBPFError) -> [Int32] {
        parseCPUList(try readText("/sys/devices/system/cpu/possible"))
    }

    /// How many entries a per-CPU map or perf event array has: the highest possible CPU
    /// plus one, as the kernel and libbcc count them. Read once: the possible CPUs are fixed
    /// at boot, and emitting probes and opening tables ask for them on every start.
    package static func possibleCPUCount() throws(EBPFError) -> Int {
        try possibleCPUCountRead.get()
    }

    private static let possibleCPUCountRead = Result { () throws(EBPFError) -> Int in
        Int(try possibleCPUs().max() ?? 0) + 1
    }

    /// The CPUs that are online now; perf buffers and per-CPU perf events open one per CPU.
    package static func onlineCPUs() throws(EBPFError) -> [Int32] {
        let cpus = parseCPUList(try readText("/sys/devices/system/cpu/online"))
        guard !cpus.isEmpty else {
            throw EBPFError(.systemCallFailed, "/sys/devices/system/cpu/online lists no CPU")
        }
        return cpus
    }
}
