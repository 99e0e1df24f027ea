import EBPFKernel
import EBPFProgram

/// Which emitted syscall probes of a group run from the raw `sys_enter` and `sys_exit`
/// tracepoints rather than from their syscall's own perf tracepoint.
///
/// Closing a syscall tracepoint's perf event waits out a grace period under the kernel's
/// `event_mutex` (about 70 ms each here, one after another however many threads close
/// them), so a tracer of 40 syscalls took 2.5 s to stop. Routed, one dispatcher per
/// direction runs on every syscall and tail-calls the probe in its program array's entry
/// for the syscall's number; the probe rebuilds on its stack the record its tracepoint
/// would have given (`__syscall_nr` at 8, the arguments from `pt_regs` from 16, or `ret` at
/// 16), and its fills read that record unchanged. Detaching empties an entry, and closes
/// the raw tracepoints with the last: no grace period.
///
/// x86-64 only, where syscall numbers are a fixed ABI (``SyscallNumbers``). These keep
/// their perf tracepoint: a syscall the table lacks (newer than it), one traced twice in
/// one direction by the group, one whose fills read outside the rebuilt record, and every
/// probe where the kernel's BTF does not say where a task's `TS_COMPAT` bit is (a 32-bit
/// syscall, which the tracepoints skip, must be told apart).
struct SyscallRouting: Sendable, Hashable {
    /// A routed probe's direction and syscall number, and whether it reads the syscall's
    /// arguments (else its record is rebuilt without reading the caller's registers).
    struct Route: Sendable, Hashable {
        let exit: Bool
        let number: Int
        var readsArguments = true
    }

    /// The routed probes, by index in the group.
    let routes: [Int: Route]
    /// Where a task's `thread_info.status` is, from the task's address.
    let compatStatusOffset: Int

    /// `TS_COMPAT` (arch/x86/include/asm/thread_info.h): the task is in a 32-bit syscall.
    static let compatFlag: Int32 = 0x0002
    /// The rebuilt record's size: the common fields, the number, and six arguments or `ret`.
    static func recordSize(exit: Bool) -> Int { exit ? 24 : 64 }
    /// One entry per syscall number of the table.
    static let programArraySize = (SyscallNumbers.x86_64.values.max() ?? 0) + 1

    static func arrayName(exit: Bool) -> String { exit ? "ebpf_route_exit" : "ebpf_route_enter" }
    static func dispatcherName(exit: Bool) -> String { exit ? "ebpf_dispatch_exit" : "ebpf_dispatch_enter" }
    static func rawTracepoint(exit: Bool) -> String { exit ? "sys_exit" : "sys_enter" }

    /// The directions that have routed probes: false for entries, true for exits.
    var directions: [Bool] { Set(routes.values.map(\.exit)).sorted { !$0 && $1 } }

    /// The routes for `programs`, or nil when none can be routed.
    static func plan(for programs: [ProbeProgram]) -> SyscallRouting? {
        plan(for: programs.map { ($0.resolved, $0.emission == nil ? nil : $0.recordReads) })
    }

    /// The routes for emitted programs at `points`, each reading `reads` of its record
    /// (nil: what it reads cannot be told, or it is not emitted), or nil when none can be
    /// routed.
    static func plan(for points: [(point: ResolvedPoint, reads: [Range<Int>]?)]) -> SyscallRouting? {
        guard let compatStatusOffset else { return nil }
        var candidates: [Int: Route] = [:]
        for (index, point) in points.enumerated() {
            guard let reads = point.reads, let route = route(of: point.point, reading: reads) else { continue }
            candidates[index] = route
        }
        // A syscall asked twice in one direction keeps its tracepoints: one array entry each.
        let counts = Dictionary(grouping: candidates.values, by: { [$0.exit ? 1 : 0, $0.number] }).mapValues(\.count)
        let routes = candidates.filter { counts[[$0.value.exit ? 1 : 0, $0.value.number]] == 1 }
        guard !routes.isEmpty else { return nil }
        return SyscallRouting(routes: routes, compatStatusOffset: compatStatusOffset)
    }

    /// Where a program at `point` is routed: a syscall tracepoint of the table, whose
    /// program reads only the rebuilt record.
    private static func route(of point: ResolvedPoint, reading reads: [Range<Int>]) -> Route? {
        guard case .tracepointRecord = point.arguments, case .tracepoint(let tracepoint) = point.point.location
        else { return nil }
        let name: Substring
        let exit: Bool
        if tracepoint.hasPrefix("syscalls:sys_enter_") {
            (name, exit) = (tracepoint.dropFirst("syscalls:sys_enter_".count), false)
        } else if tracepoint.hasPrefix("syscalls:sys_exit_") {
            (name, exit) = (tracepoint.dropFirst("syscalls:sys_exit_".count), true)
        } else {
            return nil
        }
        guard let number = SyscallNumbers.x86_64[String(name)],
            reads.allSatisfy({ $0.lowerBound >= 8 && $0.upperBound <= recordSize(exit: exit) })
        else { return nil }
        return Route(exit: exit, number: number, readsArguments: reads.contains { $0.upperBound > 16 })
    }

    /// The offset of `thread_info.status` from a task's address, when the kernel's BTF
    /// says where it is and that `thread_info` opens `task_struct`; read once per process.
    private static let compatStatusOffset: Int? = {
        #if arch(x86_64)
        guard let btf = SystemFiles.readBytes("/sys/kernel/btf/vmlinux"),
            BTFReader.memberOffset(of: "thread_info", in: "task_struct", bytes: btf) == 0
        else { return nil }
        return BTFReader.memberOffset(of: "status", in: "thread_info", bytes: btf)
        #else
        return nil
        #endif
    }()
}
