internal import CKernelABI

#if canImport(Glibc)
import Glibc
#endif

/// What the kernel says of the BPF programs this process holds, and the switch that makes it
/// count their runs.
package enum ProgramInfoCalls {
    /// One program: BPF_OBJ_GET_INFO_BY_FD's answer.
    package struct Info: Equatable {
        package var id: UInt32
        package var type: UInt32
        package var name: String
        /// The program's tag in hex: a hash of its instructions, as bpftool shows it.
        package var tag: String
        package var runTimeNanoseconds: UInt64
        package var runCount: UInt64
    }

    /// `BPF_ENABLE_STATS` with `BPF_STATS_RUN_TIME`: counting stays on for every program on
    /// the machine while the descriptor is open.
    package static func enableRunTimeStatistics() throws(SystemCallFailure) -> FileDescriptor {
        FileDescriptor(adopting: try SystemCall.check("bpf(BPF_ENABLE_STATS)") { cka_bpf_enable_run_time_stats() })
    }

    /// Every BPF program this process holds a descriptor of, once each (by id), in id order.
    /// Each descriptor is duplicated before it is asked about, so that another thread closing
    /// the number meanwhile (and the number being reused) cannot mix programs up.
    package static func programsOfThisProcess() -> [Info] {
        guard let directory = opendir("/proc/self/fd") else { return [] }
        defer { closedir(directory) }
        var numbers: [Int32] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            if let number = Int32(name), number != dirfd(directory) { numbers.append(number) }
        }
        var programs: [UInt32: Info] = [:]
        for number in numbers {
            let duplicate = fcntl(number, F_DUPFD_CLOEXEC, 0)
            guard duplicate >= 0 else { continue }
            let held = FileDescriptor(adopting: duplicate)
            guard isProgram(held), let info = info(of: held) else { continue }
            programs[info.id] = info
        }
        return programs.values.sorted { $0.id < $1.id }
    }

    /// Whether `descriptor` is a BPF program's: its fdinfo has a `prog_type:` line (a map's
    /// has `map_type:`, a link's `link_type:`).
    private static func isProgram(_ descriptor: borrowing FileDescriptor) -> Bool {
        guard let text = try? SystemFiles.readText("/proc/self/fdinfo/\(descriptor.rawValue)") else { return false }
        return text.split(separator: "\n").contains { $0.hasPrefix("prog_type:") }
    }

    /// What the kernel says of the program behind `descriptor`; nil when it is not one.
    package static func info(of descriptor: borrowing FileDescriptor) -> Info? {
        var (id, type, runTime, runCount): (UInt32, UInt32, UInt64, UInt64) = (0, 0, 0, 0)
        var name = [CChar](repeating: 0, count: 16)
        var tag = [UInt8](repeating: 0, count: 8)
        guard cka_bpf_prog_info(descriptor.rawValue, &id, &type, &name, &tag, &runTime, &runCount) == 0 else {
            return nil
        }
        return Info(
            id: id, type: type,
            name: String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self),
            tag: tag.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }
                .joined(),
            runTimeNanoseconds: runTime, runCount: runCount)
    }
}
