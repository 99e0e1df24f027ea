import EBPFKernel
import EBPFProgram

/// Builds an aggregation's program (``AggregationProgram``) as BPF instructions, without
/// clang, as ``ProbeEmitter`` builds closure probes: the tables the C declares, and per
/// event the same key, slot and updates as the C that ``AggregationProgram/text`` holds.
/// A compile cost 0.3–2 s of an aggregation one-liner's start.
///
/// Registers: `r6` the tracepoint's record (a latency's exit: the thread's depth entry),
/// `r7` pid/tgid, `r8` uid/gid, `r9` the aggregated value. Stack, below the slots of
/// ``ProbeEmitter`` and ``SyscallRouting``: the table's initial value, a latency's thread
/// id, call and time, then the key.
enum AggregationEmitter {
    /// The program's tables and functions (the aggregating function, and a latency's
    /// entry), or nil when only clang builds it. `routing` routes them by their index in
    /// ``AggregationProgram/routedPoints``.
    static func object(for program: AggregationProgram, routing: SyscallRouting?) -> CompiledObject? {
        guard let emission = program.emission else { return nil }
        var maps = AggregationProgram.tableNames.map {
            CompiledObject.Map(
                $0, .perCPUHash, keySize: program.keySize, valueSize: program.valueSize, entries: emission.maxKeys)
        }
        maps.append(
            CompiledObject.Map(AggregationProgram.generationTableName, .array, keySize: 4, valueSize: 4, entries: 1))
        maps.append(
            CompiledObject.Map(AggregationProgram.droppedTableName, .perCPUArray, keySize: 4, valueSize: 8, entries: 1))
        if case .latency = program.measure {
            maps.append(
                CompiledObject.Map(
                    AggregationProgram.startTableName, .hash, keySize: 8, valueSize: 8, entries: emission.maxKeys))
            maps.append(
                CompiledObject.Map(
                    AggregationProgram.depthTableName, .hash, keySize: 4, valueSize: 4, entries: emission.maxKeys))
        }
        var cgroupTable: Int? = nil
        if emission.filter.cgroupTest?.descendants == true {
            cgroupTable = maps.count
            maps.append(CgroupFilterTable.map)
        }
        let tables = Tables(statistics: [0, 1], generation: 2, dropped: 3, start: 4, depth: 5, cgroup: cgroupTable)
        var functions: [CompiledObject.Function] = []
        func function(_ name: String, routeIndex: Int, _ body: (inout BPFAssembler) -> Void) {
            var code = BPFAssembler()
            if let route = routing?.routes[routeIndex], let routing {
                SyscallRouting.emitRecord(of: route, compatStatusOffset: routing.compatStatusOffset, into: &code)
            } else {
                code.move(.r6, .r1)
            }
            body(&code)
            code.finish()
            functions.append(
                CompiledObject.Function(name: name, instructions: code.instructions, mapReferences: code.mapReferences))
        }
        let emitter = Emitter(program: program, emission: emission, tables: tables)
        if case .latency = program.measure {
            function(AggregationProgram.entryFunctionName, routeIndex: 1, emitter.emitLatencyEntry)
        }
        function(AggregationProgram.functionName, routeIndex: 0, emitter.emitAggregation)
        let routes = SyscallRouting.dispatchers(for: routing, firstMap: maps.count)
        maps += routes.maps
        functions += routes.functions
        return CompiledObject(license: "GPL", kernelVersion: 0, maps: maps, functions: functions)
    }

    /// The tables' numbers in the object.
    private struct Tables {
        let statistics: [Int]
        let generation: Int
        let dropped: Int
        let start: Int
        let depth: Int
        let cgroup: Int?
    }

    private static let initialAt = -208
    private static let threadAt = -216
    private static let zeroAt = -212
    private static let callAt = -224
    private static let nowAt = -232
    private static let keysEnd = -232
    /// `BPF_ANY` and `BPF_NOEXIST`, `bpf_map_update_elem`'s flags.
    private static let anyFlag: Int32 = 0
    private static let absentFlag: Int32 = 1

    private struct Emitter {
        let program: AggregationProgram
        let emission: AggregationProgram.Emission
        let tables: Tables

        private var keyAt: Int { AggregationEmitter.keysEnd - (program.keySize + 7) / 8 * 8 }
        private var readsName: Bool { emission.key == .processName }

        /// The aggregating function (for a latency, at the exit): the value, the key, the
        /// slot, and the table's update.
        func emitAggregation(_ code: inout BPFAssembler) {
            if case .latency = program.measure {
                // The entry's filter chose the threads; the exit needs only the ids.
                ProbeEmitter.emitIdentity(filter: ProbeFilter(), readsName: readsName, into: &code)
                emitLatencyValue(&code)
            } else {
                ProbeEmitter.emitIdentity(
                    filter: emission.filter, readsName: readsName, cgroupTable: tables.cgroup, into: &code)
                if let value = emission.value { emitLoad(.r9, value.value, signed: value.signed, &code) }
            }
            emitKey(&code)
            emitUpdate(&code)
        }

        /// A latency's entry: the thread's depth (created at 0), its call's start time under
        /// (tid << 32 | depth), and the depth one deeper.
        func emitLatencyEntry(_ code: inout BPFAssembler) {
            ProbeEmitter.emitIdentity(
                filter: emission.filter, readsName: false, cgroupTable: tables.cgroup, into: &code)
            code.store(size: 4, to: .frame, offset: AggregationEmitter.threadAt, .r7)
            code.store(size: 4, to: .frame, offset: AggregationEmitter.zeroAt, Int32(0))
            let found = code.newLabel()
            emitLookup(tables.depth, keyAt: AggregationEmitter.threadAt, &code)
            code.jump(if: .notEqual, .r0, 0, to: found)
            emitUpdate(
                tables.depth, keyAt: AggregationEmitter.threadAt, valueAt: AggregationEmitter.zeroAt,
                flags: AggregationEmitter.absentFlag, &code)
            emitLookup(tables.depth, keyAt: AggregationEmitter.threadAt, &code)
            code.exitIfEqual(.r0, 0)
            code.place(found)
            code.move(.r6, .r0)
            emitCall(&code)
            code.call(.ktimeGetNanoseconds)
            code.store(size: 8, to: .frame, offset: AggregationEmitter.nowAt, .r0)
            emitUpdate(
                tables.start, keyAt: AggregationEmitter.callAt, valueAt: AggregationEmitter.nowAt,
                flags: AggregationEmitter.anyFlag, &code)
            code.load(.r1, size: 4, from: .r6, offset: 0)
            code.add(.r1, 1)
            code.store(size: 4, to: .r6, offset: 0, .r1)
        }

        /// A latency's exit: one shallower, the time since that depth's start into `r9`,
        /// the start forgotten, and the thread's depth once back at 0.
        private func emitLatencyValue(_ code: inout BPFAssembler) {
            code.store(size: 4, to: .frame, offset: AggregationEmitter.threadAt, .r7)
            emitLookup(tables.depth, keyAt: AggregationEmitter.threadAt, &code)
            code.exitIfEqual(.r0, 0)
            code.move(.r6, .r0)
            code.load(.r1, size: 4, from: .r6, offset: 0)
            code.exitIfEqual(.r1, 0)
            code.add(.r1, -1)
            code.store(size: 4, to: .r6, offset: 0, .r1)
            emitCall(&code)
            emitLookup(tables.start, keyAt: AggregationEmitter.callAt, &code)
            code.exitIfEqual(.r0, 0)
            code.load(.r9, size: 8, from: .r0, offset: 0)
            code.call(.ktimeGetNanoseconds)
            code.subtract(.r0, .r9)
            code.move(.r9, .r0)
            emitDelete(tables.start, keyAt: AggregationEmitter.callAt, &code)
            let deeper = code.newLabel()
            code.load(.r1, size: 4, from: .r6, offset: 0)
            code.jump(if: .notEqual, .r1, 0, to: deeper)
            emitDelete(tables.depth, keyAt: AggregationEmitter.threadAt, &code)
            code.place(deeper)
        }

        /// The call's key at ``callAt``: the thread id over the depth `r6` points at.
        private func emitCall(_ code: inout BPFAssembler) {
            code.load(.r1, size: 4, from: .r6, offset: 0)
            code.move(.r2, .r7)
            code.shiftLeft(.r2, 32)
            code.or(.r2, .r1)
            code.store(size: 8, to: .frame, offset: AggregationEmitter.callAt, .r2)
        }

        /// The key, zeroed first as the C's `memset`, then a histogram's slot before it.
        private func emitKey(_ code: inout BPFAssembler) {
            for word in stride(from: 0, to: program.keySize, by: 8) {
                code.store(size: 8, to: .frame, offset: keyAt + word, Int32(0))
            }
            let at = keyAt + (program.isHistogram ? 8 : 0)
            switch emission.key {
            case .total: break
            case .processID:
                code.move(.r1, .r7)
                code.shiftRight(.r1, 32)
                code.store(size: 8, to: .frame, offset: at, .r1)
            case .threadID: code.store(size: 4, to: .frame, offset: at, .r7)
            case .userID: code.store(size: 4, to: .frame, offset: at, .r8)
            case .cpu:
                code.call(.getSMPProcessorID)
                code.store(size: 4, to: .frame, offset: at, .r0)
            case .cgroup:
                code.call(.getCurrentCgroupID)
                code.store(size: 8, to: .frame, offset: at, .r0)
            case .processName:
                for word in [0, 8] {
                    code.load(.r1, size: 8, from: .frame, offset: ProbeEmitter.commAt + word)
                    code.store(size: 8, to: .frame, offset: at + word, .r1)
                }
            case .integer(let value, let signed):
                emitLoad(.r1, value, signed: signed, &code)
                code.store(size: 8, to: .frame, offset: at, .r1)
            case .text(let capacity, .string(let pointer, let user)):
                ProbeEmitter.emitPointer(pointer, into: &code)
                code.move(.r1, .frame)
                code.add(.r1, Int32(at))
                code.move(.r2, Int32(capacity))
                code.call(user ? .probeReadUserString : .probeReadKernelString)
            case .text(let capacity, .characters(let offset)):
                code.move(.r3, .r6)
                code.add(.r3, Int32(offset))
                code.move(.r1, .frame)
                code.add(.r1, Int32(at))
                code.move(.r2, Int32(capacity))
                code.call(.probeReadKernel)
            }
            if let buckets = program.buckets { emitSlot(buckets, &code) }
        }

        /// The slot of the value in `r9`, at the key's start.
        private func emitSlot(_ buckets: HistogramBuckets, _ code: inout BPFAssembler) {
            let store = code.newLabel()
            code.move(.r1, 0)
            switch buckets {
            case .log2:
                // bcc's bpf_log2l: 1 for 0 and 1, then floor(log2(v)) + 1; below zero, 0.
                code.jump(if: .signedLess, .r9, 0, to: store)
                code.move(.r2, .r9)
                code.move(.r1, 1)
                for shift: Int32 in [32, 16, 8, 4, 2, 1] {
                    let next = code.newLabel()
                    code.move(.r3, .r2)
                    code.shiftRight(.r3, shift)
                    code.jump(if: .equal, .r3, 0, to: next)
                    code.add(.r1, shift)
                    code.move(.r2, .r3)
                    code.place(next)
                }
            case .linear(let low, let high, let step):
                code.load64(.r2, UInt64(bitPattern: low))
                code.jump(if: .signedLess, .r9, .r2, to: store)
                code.move(.r1, Int32(buckets.slotCount - 1))
                code.load64(.r2, UInt64(bitPattern: high))
                code.jump(if: .signedGreaterOrEqual, .r9, .r2, to: store)
                code.move(.r1, .r9)
                code.load64(.r2, UInt64(bitPattern: low))
                code.subtract(.r1, .r2)
                code.load64(.r2, UInt64(bitPattern: step))
                code.divide(.r1, .r2)
                code.add(.r1, 1)
            }
            code.place(store)
            code.store(size: 8, to: .frame, offset: keyAt, .r1)
        }

        /// The table programs fill now (the generation switch), the key's entry found or
        /// created zeroed (`lookup_or_try_init`), and its statistics or slot updated; a
        /// full table counts a drop instead.
        private func emitUpdate(_ code: inout BPFAssembler) {
            code.store(size: 4, to: .frame, offset: ProbeEmitter.keyAt, Int32(0))
            for word in stride(from: 0, to: program.valueSize, by: 8) {
                code.store(size: 8, to: .frame, offset: AggregationEmitter.initialAt + word, Int32(0))
            }
            let second = code.newLabel()
            let first = code.newLabel()
            emitLookup(tables.generation, keyAt: ProbeEmitter.keyAt, &code)
            code.jump(if: .equal, .r0, 0, to: first)
            code.load(.r1, size: 4, from: .r0, offset: 0)
            code.jump(if: .notEqual, .r1, 0, to: second)
            code.place(first)
            emitAccess(tables.statistics[0], &code)
            code.place(second)
            emitAccess(tables.statistics[1], &code)
        }

        /// Updates the key's entry in `table`, then leaves the program.
        private func emitAccess(_ table: Int, _ code: inout BPFAssembler) {
            let found = code.newLabel()
            emitLookup(table, keyAt: keyAt, &code)
            code.jump(if: .notEqual, .r0, 0, to: found)
            emitUpdate(
                table, keyAt: keyAt, valueAt: AggregationEmitter.initialAt, flags: AggregationEmitter.absentFlag, &code)
            emitLookup(table, keyAt: keyAt, &code)
            code.jump(if: .notEqual, .r0, 0, to: found)
            emitLookup(tables.dropped, keyAt: ProbeEmitter.keyAt, &code)
            code.exitIfEqual(.r0, 0)
            emitIncrement(at: 0, of: .r0, &code)
            code.exitNow()
            code.place(found)
            if program.isHistogram {
                emitIncrement(at: 0, of: .r0, &code)
                emitAddValue(at: 8, &code)
            } else {
                if emission.value != nil {
                    // min and max where the count is 0 or the value passes them; then the sum.
                    code.load(.r1, size: 8, from: .r0, offset: 0)
                    for (offset, keeps) in [
                        (16, BPFAssembler.Condition.signedGreaterOrEqual), (24, .signedLessOrEqual),
                    ] {
                        let set = code.newLabel()
                        let kept = code.newLabel()
                        code.jump(if: .equal, .r1, 0, to: set)
                        code.load(.r2, size: 8, from: .r0, offset: offset)
                        code.jump(if: keeps, .r9, .r2, to: kept)
                        code.place(set)
                        code.store(size: 8, to: .r0, offset: offset, .r9)
                        code.place(kept)
                    }
                    emitAddValue(at: 8, &code)
                }
                emitIncrement(at: 0, of: .r0, &code)
            }
            code.exitNow()
        }

        /// `*(u64 *)(register + offset) += 1`.
        private func emitIncrement(at offset: Int, of register: BPFAssembler.Register, _ code: inout BPFAssembler) {
            code.load(.r1, size: 8, from: register, offset: offset)
            code.add(.r1, 1)
            code.store(size: 8, to: register, offset: offset, .r1)
        }

        /// `*(s64 *)(r0 + offset) += r9`.
        private func emitAddValue(at offset: Int, _ code: inout BPFAssembler) {
            code.load(.r2, size: 8, from: .r0, offset: offset)
            code.add(.r2, .r9)
            code.store(size: 8, to: .r0, offset: offset, .r2)
        }

        /// `r0` = `map`'s entry for the key at `keyAt` on the stack, or 0.
        private func emitLookup(_ map: Int, keyAt: Int, _ code: inout BPFAssembler) {
            code.loadMap(.r1, map: map)
            code.move(.r2, .frame)
            code.add(.r2, Int32(keyAt))
            code.call(.mapLookupElement)
        }

        /// `bpf_map_update_elem(map, key at keyAt, value at valueAt, flags)` from the stack.
        private func emitUpdate(_ map: Int, keyAt: Int, valueAt: Int, flags: Int32, _ code: inout BPFAssembler) {
            code.loadMap(.r1, map: map)
            code.move(.r2, .frame)
            code.add(.r2, Int32(keyAt))
            code.move(.r3, .frame)
            code.add(.r3, Int32(valueAt))
            code.move(.r4, flags)
            code.call(.mapUpdateElement)
        }

        private func emitDelete(_ map: Int, keyAt: Int, _ code: inout BPFAssembler) {
            code.loadMap(.r1, map: map)
            code.move(.r2, .frame)
            code.add(.r2, Int32(keyAt))
            code.call(.mapDeleteElement)
        }

        /// `register` = the record's `value`, sign-extended when `signed`.
        private func emitLoad(
            _ register: BPFAssembler.Register, _ value: ProbeProgram.RecordValue, signed: Bool,
            _ code: inout BPFAssembler
        ) {
            code.load(register, size: value.size, from: .r6, offset: value.offset)
            guard signed, value.size < 8 else { return }
            code.shiftLeft(register, Int32(64 - 8 * value.size))
            code.arithmeticShiftRight(register, Int32(64 - 8 * value.size))
        }
    }
}
