import EBPFKernel
import EBPFProgram

/// Builds generated tracepoint probes as BPF instructions, without clang.
///
/// A compile costs clang's start (0.4 s on a 2-core machine) and 60–100 ms per probe; a
/// tracer of 40 syscalls spent 2.6 s compiling. The generated programs are few statements
/// of few kinds (``ProbeProgram/Fill``), so they are written here directly: the same
/// record, byte for byte, through the same helpers, as the C that ``ProbeProgram/text``
/// holds. Programs with something only clang builds (kprobes, whose argument registers
/// come from architecture headers; floating-point fields) are compiled from that C.
///
/// Registers: `r6` the tracepoint's record, `r7` pid/tgid, `r8` uid/gid, `r9` the record
/// being filled. Stack: the thread's name at `r10-24`, the scratch array's key at `r10-4`.
enum ProbeEmitter {
    /// The programs as one object (the buffer they share, then each program's scratch
    /// array and function, then for `routing` each direction's program array and
    /// dispatcher), or nil when one of them needs clang. With `ringBytes`, the buffer is a
    /// ring buffer of that many bytes, with a per-CPU count of the records it had no room
    /// for, and the programs build their records in place (no scratch arrays). Also nil, so
    /// that clang and libbcc build and size the buffer instead, when the possible CPUs
    /// cannot be read.
    static func object(
        for programs: [ProbeProgram], routing: SyscallRouting? = nil, ringBytes: Int? = nil
    ) -> CompiledObject? {
        guard let possibleCPUs = try? SystemFiles.possibleCPUCount() else { return nil }
        let events = 0
        var maps: [CompiledObject.Map]
        if let ringBytes {
            maps = [
                CompiledObject.Map(
                    ProbeProgram.standaloneTableName, .ringBuffer, keySize: 0, valueSize: 0, entries: ringBytes),
                CompiledObject.Map(ProbeProgram.lostTableName, .perCPUArray, keySize: 4, valueSize: 8, entries: 1),
            ]
        } else {
            maps = [
                CompiledObject.Map(
                    ProbeProgram.standaloneTableName, .perfEventArray, keySize: 4, valueSize: 4, entries: possibleCPUs)
            ]
        }
        var cgroupTable: Int? = nil
        if programs.contains(where: { $0.emission?.filter.cgroupTest?.descendants == true }) {
            cgroupTable = maps.count
            maps.append(CgroupFilterTable.map)
        }
        var functions: [CompiledObject.Function] = []
        for (index, program) in programs.enumerated() {
            guard let emission = program.emission else { return nil }
            let record: RecordSpace
            if let ringBytes {
                record = .ring(events: events, lost: 1, watermark: ringBytes / 4)
            } else {
                record = .scratch(maps.count, events: events)
                maps.append(
                    CompiledObject.Map(
                        program.scratchName, .perCPUArray, keySize: 4, valueSize: program.recordSize, entries: 1))
            }
            var code = BPFAssembler()
            let route = routing?.routes[index]
            if let route, let routing {
                SyscallRouting.emitRecord(of: route, compatStatusOffset: routing.compatStatusOffset, into: &code)
            } else {
                code.move(.r6, .r1)
            }
            emitBody(
                of: program, emission, record: record, routed: route != nil, cgroupTable: cgroupTable, into: &code)
            functions.append(
                CompiledObject.Function(
                    name: program.functionName, instructions: code.instructions, mapReferences: code.mapReferences))
        }
        let routes = SyscallRouting.dispatchers(for: routing, firstMap: maps.count)
        maps += routes.maps
        functions += routes.functions
        // The kernel checks the version only of kprobe programs (before 5.0), never emitted.
        return CompiledObject(license: "GPL", kernelVersion: 0, maps: maps, functions: functions)
    }

    static let commAt = -24
    static let keyAt = -4
    /// Where a string array's element pointer is read to.
    private static let pointerAt = -32

    /// Where a program builds its record, and how it hands it on.
    private enum RecordSpace {
        /// In its per-CPU scratch array, then copied into the perf buffer `events`.
        case scratch(Int, events: Int)
        /// In place in the ring buffer `events` (a failed reservation counted in the per-CPU
        /// array `lost`), submitted without waking the reader unless it takes the ring past
        /// `watermark` bytes.
        case ring(events: Int, lost: Int, watermark: Int)
    }

    /// `BPF_RB_AVAIL_DATA` (`bpf_ringbuf_query`), `BPF_RB_NO_WAKEUP` and
    /// `BPF_RB_FORCE_WAKEUP` (`bpf_ringbuf_submit`).
    private static let availableData: Int32 = 0
    private static let noWakeup: Int32 = 1
    private static let forceWakeup: Int32 = 2

    /// The probe proper, `r6` pointing at the tracepoint's record (for a `routed` probe,
    /// the record it rebuilt).
    private static func emitBody(
        of program: ProbeProgram, _ emission: ProbeProgram.Emission, record: RecordSpace, routed: Bool,
        cgroupTable: Int?, into code: inout BPFAssembler
    ) {
        emitIdentity(filter: emission.filter, readsName: true, cgroupTable: cgroupTable, into: &code)
        code.store(size: 4, to: .frame, offset: keyAt, Int32(0))
        switch record {
        case .scratch(let scratch, _):
            code.loadMap(.r1, map: scratch)
            code.move(.r2, .frame)
            code.add(.r2, Int32(keyAt))
            code.call(.mapLookupElement)
            code.exitIfEqual(.r0, 0)
        case .ring(let events, let lost, _):
            let reserved = code.newLabel()
            code.loadMap(.r1, map: events)
            code.move(.r2, Int32(program.recordSize))
            code.move(.r3, 0)
            code.call(.ringbufReserve)
            code.jump(if: .notEqual, .r0, 0, to: reserved)
            code.loadMap(.r1, map: lost)
            code.move(.r2, .frame)
            code.add(.r2, Int32(keyAt))
            code.call(.mapLookupElement)
            code.exitIfEqual(.r0, 0)
            code.load(.r1, size: 8, from: .r0, offset: 0)
            code.add(.r1, 1)
            code.store(size: 8, to: .r0, offset: 0, .r1)
            code.exitNow()
            code.place(reserved)
        }
        code.move(.r9, .r0)
        emitHeader(probeIndex: program.probeIndex, into: &code)
        for fill in emission.fills { emit(fill, into: &code) }
        switch record {
        case .scratch(_, let events):
            if routed {
                code.load(.r1, size: 8, from: .frame, offset: SyscallRouting.contextAt)
            } else {
                code.move(.r1, .r6)
            }
            code.loadMap(.r2, map: events)
            code.move32(.r3, 0xFFFF_FFFF)  // BPF_F_CURRENT_CPU
            code.move(.r4, .r9)
            code.move(.r5, Int32(program.recordSize))
            code.call(.perfEventOutput)
        case .ring(let events, _, let watermark):
            let submit = code.newLabel()
            code.loadMap(.r1, map: events)
            code.move(.r2, availableData)
            code.call(.ringbufQuery)
            // Woken by the records that take the ring past the watermark, 16 records' worth
            // (other CPUs reserve meanwhile), not by every record past it: that woke the
            // reader again and again while it drained.
            code.move(.r2, noWakeup)
            code.jump(if: .lessOrEqual, .r0, Int32(clamping: watermark), to: submit)
            code.jump(if: .greater, .r0, Int32(clamping: watermark + 16 * (program.recordSize + 8)), to: submit)
            code.move(.r2, forceWakeup)
            code.place(submit)
            code.move(.r1, .r9)
            code.call(.ringbufSubmit)
        }
        code.finish()
    }

    /// `r7` = pid/tgid, `r8` = uid/gid, then `filter`'s checks (leaving the program when
    /// one fails; a cgroup with its descendants through the object's map `cgroupTable`,
    /// ``CgroupFilterTable``), and when `readsName` or filtering by it, the thread's name at ``commAt``, as the C's
    /// prologue (``ProbeProgram/prologue(filter:resolved:readsName:)``).
    static func emitIdentity(
        filter: ProbeFilter, readsName: Bool, cgroupTable: Int? = nil, into code: inout BPFAssembler
    ) {
        code.call(.getCurrentPIDTGID)
        code.move(.r7, .r0)
        code.call(.getCurrentUIDGID)
        code.move(.r8, .r0)
        if let pid = filter.processID {
            code.move(.r1, .r7)
            code.shiftRight(.r1, 32)
            code.exitIfNotEqual(.r1, pid)
        }
        if let tid = filter.threadID { code.exitIfNotEqual32(.r7, UInt32(bitPattern: tid)) }
        if let uid = filter.userID { code.exitIfNotEqual32(.r8, uid) }
        if let cgroup = filter.cgroupTest {
            if cgroup.descendants {
                guard let cgroupTable else { preconditionFailure("a cgroup filter with descendants needs its table") }
                code.loadMap(.r1, map: cgroupTable)
                code.move(.r2, 0)
                code.call(.currentTaskUnderCgroup)
                code.exitIfNotEqual(.r0, 1)
            } else {
                code.call(.getCurrentCgroupID)
                code.load64(.r1, cgroup.id)
                code.exitIfNotEqual(.r0, .r1)
            }
        }
        guard readsName || filter.processName != nil else { return }
        // Zeroed first, as the C's `char ebpf_comm[16] = {}`: before 6.2 or so the helper
        // copies the name with strscpy, which leaves the bytes after its NUL as they were, and
        // the name filter compares all sixteen.
        code.store(size: 8, to: .frame, offset: commAt, Int32(0))
        code.store(size: 8, to: .frame, offset: commAt + 8, Int32(0))
        code.move(.r1, .frame)
        code.add(.r1, Int32(commAt))
        code.move(.r2, 16)
        code.call(.getCurrentComm)
        if let name = filter.processName {
            // As the C: the name as two 64-bit words, two branches.
            let (low, high) = ProbeProgram.commWords(name)
            for (offset, word) in [(commAt, low), (commAt + 8, high)] {
                code.load(.r1, size: 8, from: .frame, offset: offset)
                code.load64(.r2, word)
                code.exitIfNotEqual(.r1, .r2)
            }
        }
    }

    /// Fills ``ProbeRecordHeader``'s members, as its `fill` statements do in C.
    private static func emitHeader(probeIndex: Int, into code: inout BPFAssembler) {
        typealias Header = ProbeRecordHeader
        code.call(.ktimeGetNanoseconds)
        code.store(size: 8, to: .r9, offset: Header.timestamp.layout.offset, .r0)
        code.move(.r1, .r7)
        code.shiftRight(.r1, 32)
        code.store(size: 4, to: .r9, offset: Header.processID.layout.offset, .r1)
        code.store(size: 4, to: .r9, offset: Header.threadID.layout.offset, .r7)
        code.store(size: 4, to: .r9, offset: Header.userID.layout.offset, .r8)
        code.move(.r1, .r8)
        code.shiftRight(.r1, 32)
        code.store(size: 4, to: .r9, offset: Header.groupID.layout.offset, .r1)
        code.call(.getSMPProcessorID)
        code.store(size: 4, to: .r9, offset: Header.cpu.layout.offset, .r0)
        code.store(size: 4, to: .r9, offset: Header.probeIndex.layout.offset, Int32(probeIndex))
        let comm = Header.processName.layout.offset
        precondition(comm % 4 == 0, "the record's comm must be 4-byte aligned")
        for word in 0..<4 {
            code.load(.r1, size: 4, from: .frame, offset: commAt + 4 * word)
            code.store(size: 4, to: .r9, offset: comm + 4 * word, .r1)
        }
        code.call(.getCurrentCgroupID)
        code.store(size: 8, to: .r9, offset: Header.cgroupID.layout.offset, .r0)
    }

    private static func emit(_ fill: ProbeProgram.Fill, into code: inout BPFAssembler) {
        switch fill {
        case .scalar(let at, let size, let value):
            code.load(.r1, size: value.size, from: .r6, offset: value.offset)
            code.store(size: size, to: .r9, offset: at, .r1)
        case .copy(let at, let size, let recordOffset):
            code.move(.r3, .r6)
            code.add(.r3, Int32(recordOffset))
            emitRead(into: at, size: size, helper: .probeReadKernel, &code)
        case .string(let at, let capacity, let pointer, let user):
            emitPointer(pointer, into: &code)
            emitRead(into: at, size: capacity, helper: user ? .probeReadUserString : .probeReadKernelString, &code)
        case .bytes(let at, let capacity, let lengthAt, let length, let pointer, let user):
            switch length {
            case .value(let value):
                code.load(.r2, size: value.size, from: .r6, offset: value.offset)
            case .dataLocation(let offset):
                code.load(.r2, size: 4, from: .r6, offset: offset)
                code.shiftRight(.r2, 16)
            }
            code.skipNextIfLessOrEqual(.r2, Int32(capacity))
            code.move(.r2, Int32(capacity))
            code.store(size: 4, to: .r9, offset: lengthAt, .r2)
            emitPointer(pointer, into: &code)
            code.move(.r1, .r9)
            code.add(.r1, Int32(at))
            code.call(user ? .probeReadUser : .probeReadKernel)
            code.skipNextIfEqual(.r0, 0)
            code.store(size: 4, to: .r9, offset: lengthAt, Int32(0))
        case .strings(let at, let count, let elementSize, let countAt, let array, let user):
            // Unrolled, as the C's loop: read pointer i, stop at NULL or a failed read, copy
            // its string, count it.
            let end = code.newLabel()
            code.store(size: 4, to: .r9, offset: countAt, Int32(0))
            for index in 0..<count {
                code.move(.r1, .frame)
                code.add(.r1, Int32(pointerAt))
                code.move(.r2, 8)
                code.load(.r3, size: array.size, from: .r6, offset: array.offset)
                code.add(.r3, Int32(8 * index))
                code.call(user ? .probeReadUser : .probeReadKernel)
                code.jumpIfNotEqual(.r0, 0, to: end)
                code.load(.r3, size: 8, from: .frame, offset: pointerAt)
                code.jumpIfEqual(.r3, 0, to: end)
                emitRead(
                    into: at + index * elementSize, size: elementSize,
                    helper: user ? .probeReadUserString : .probeReadKernelString, &code)
                code.store(size: 4, to: .r9, offset: countAt, Int32(index + 1))
            }
            code.place(end)
        }
    }

    /// `r3` = the source address; uses `r1`, leaves `r2`.
    static func emitPointer(_ pointer: ProbeProgram.Fill.Pointer, into code: inout BPFAssembler) {
        switch pointer {
        case .value(let value):
            code.load(.r3, size: value.size, from: .r6, offset: value.offset)
        case .dataLocation(let offset):
            code.load(.r1, size: 4, from: .r6, offset: offset)
            code.and(.r1, 0xFFFF)
            code.move(.r3, .r6)
            code.add(.r3, .r1)
        }
    }

    /// Calls `helper(r9 + at, size, r3)`.
    private static func emitRead(
        into at: Int, size: Int, helper: BPFAssembler.Helper, _ code: inout BPFAssembler
    ) {
        code.move(.r1, .r9)
        code.add(.r1, Int32(at))
        code.move(.r2, Int32(size))
        code.call(helper)
    }
}
