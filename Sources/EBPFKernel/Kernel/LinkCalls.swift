internal import CKernelABI

#if canImport(Glibc)
import Glibc
#endif

/// The attach calls of the program types that are not tracing: links (XDP, tcx, cgroups,
/// LSM hooks), cgroup attachments and breakpoints.
extension LibBCC.Hook {
    /// `program` attached as `attachType` to the interface with index `interfaceIndex`
    /// through a BPF link, with `flags` (XDP's mode): detached when the link closes, at the
    /// latest when the process exits.
    package static func interfaceLink(
        program: borrowing BorrowedDescriptor, interfaceIndex: UInt32, attachType: UInt32, flags: UInt32 = 0
    ) throws(SystemCallFailure) -> LibBCC.Hook {
        let number = try SystemCall.check("bpf(BPF_LINK_CREATE)") {
            cka_bpf_link_create(program.rawValue, interfaceIndex, attachType, flags)
        }
        return LibBCC.Hook(closing: FileDescriptor(adopting: number))
    }

    /// `program` attached as `attachType` to the cgroup whose directory `cgroup` is open,
    /// through a BPF link (Linux 5.7): detached when the link closes, at the latest when
    /// the process exits. Other programs of the cgroup keep running beside it.
    package static func cgroupLink(
        program: borrowing BorrowedDescriptor, cgroup: borrowing FileDescriptor, attachType: UInt32
    ) throws(SystemCallFailure) -> LibBCC.Hook {
        let number = try SystemCall.check("bpf(BPF_LINK_CREATE)") {
            cka_bpf_link_create(program.rawValue, UInt32(bitPattern: cgroup.rawValue), attachType, 0)
        }
        return LibBCC.Hook(closing: FileDescriptor(adopting: number))
    }

    /// `program` attached as `attachType` to the cgroup whose directory `cgroup` is open with
    /// BPF_PROG_ATTACH and `flags` (`BPF_F_ALLOW_OVERRIDE` 1, `BPF_F_ALLOW_MULTI` 2): it
    /// stays attached after the process exits, until the hook goes. Without
    /// `BPF_F_ALLOW_MULTI` the kernel would swap out a program already there: that throws
    /// EEXIST instead.
    package static func cgroupAttachment(
        program: borrowing BorrowedDescriptor, cgroup: consuming FileDescriptor, attachType: UInt32, flags: UInt32
    ) throws(SystemCallFailure) -> LibBCC.Hook {
        let kept = try FileDescriptor.duplicate(program)
        let multi = flags & 2 != 0
        if !multi, try !attachedPrograms(cgroup: cgroup, attachType: attachType).isEmpty {
            throw SystemCallFailure(call: "bpf(BPF_PROG_QUERY)", errno: EEXIST)
        }
        try SystemCall.check("bpf(BPF_PROG_ATTACH)") {
            cka_bpf_prog_attach(program.rawValue, cgroup.rawValue, attachType, flags, 0)
        }
        return LibBCC.Hook(cgroupProgram: kept, cgroup: cgroup, attachType: attachType, multi: multi)
    }

    /// The ids of the programs attached to the cgroup as `attachType`, directly (not
    /// inherited), at most 64.
    static func attachedPrograms(
        cgroup: borrowing FileDescriptor, attachType: UInt32
    ) throws(SystemCallFailure) -> [UInt32] {
        var ids = [UInt32](repeating: 0, count: 64)
        var count = UInt32(ids.count)
        try SystemCall.check("bpf(BPF_PROG_QUERY)") { cka_bpf_prog_query(cgroup.rawValue, attachType, &ids, &count) }
        return Array(ids.prefix(Int(min(count, 64))))
    }

    /// Detaches `program` from the cgroup, where it was attached with BPF_PROG_ATTACH; one
    /// attached without `BPF_F_ALLOW_MULTI` only while it is still the one there (the
    /// kernel would detach whichever is).
    static func detachCgroupProgram(
        _ program: borrowing FileDescriptor, cgroup: borrowing FileDescriptor, attachType: UInt32, multi: Bool
    ) {
        if !multi {
            guard let ours = ProgramInfoCalls.info(of: program)?.id,
                (try? attachedPrograms(cgroup: cgroup, attachType: attachType))?.contains(ours) == true
            else { return }
        }
        _ = cka_bpf_prog_attach(program.rawValue, cgroup.rawValue, attachType, 0, 1)
    }

    /// A program loaded for a kernel function's BTF id (an LSM hook) attached through a
    /// link (BPF_RAW_TRACEPOINT_OPEN without a name, Linux 5.7).
    package static func btfLink(program: borrowing BorrowedDescriptor) throws(SystemCallFailure) -> LibBCC.Hook {
        let number = try SystemCall.check("bpf(BPF_RAW_TRACEPOINT_OPEN)") {
            cka_bpf_attach_btf_program(program.rawValue)
        }
        return LibBCC.Hook(closing: FileDescriptor(adopting: number))
    }

    /// A hardware breakpoint on `length` bytes at `address` (`kind`: 1 read, 2 write, 3
    /// either, 4 execute) for process `pid` (-1: every process), one event per entry of
    /// `cpus` (-1: any CPU), running `program` on each hit; all or nothing.
    package static func breakpoints(
        program: borrowing BorrowedDescriptor, address: UInt64, length: UInt32, kind: UInt32, pid: Int32,
        cpus: [Int32]
    ) throws(SystemCallFailure) -> LibBCC.Hook {
        var events = DescriptorGroup(.perfEvent)
        for cpu in cpus {
            // The ones opened so far close with `events` if one fails.
            events.adopt(
                try SystemCall.check("perf_event_open(breakpoint)") {
                    cka_attach_breakpoint(program.rawValue, address, length, kind, pid, cpu)
                })
        }
        return LibBCC.Hook(perfEventGroup: events)
    }
}

/// Network interfaces by name.
package enum NetworkInterfaces {
    /// The index of interface `name` in the calling thread's network namespace, or nil.
    package static func index(of name: String) -> UInt32? {
        let index = if_nametoindex(name)
        return index == 0 ? nil : index
    }
}
