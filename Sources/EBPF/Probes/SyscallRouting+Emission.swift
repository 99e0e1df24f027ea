import EBPFKernel
import EBPFProgram

/// The instructions of routed syscall probes (``SyscallRouting``), for the emitters: the
/// dispatchers, and the start of each routed program. Stack (below the emitters' own
/// slots, ``ProbeEmitter/commAt`` and up): the context at ``contextAt``, the task's status
/// word, the rebuilt record at ``recordAt``, and the argument registers read. Kernel memory is
/// read with `bpf_probe_read` (Linux 4.1), not `bpf_probe_read_kernel` (5.5): a routed probe
/// that reads only its record's scalars needs nothing newer than it did on its tracepoint.
extension SyscallRouting {
    /// Each routed direction's program array and dispatcher, for an object whose maps so
    /// far number `firstMap`: what the emitters append to their own.
    static func dispatchers(
        for routing: SyscallRouting?, firstMap: Int
    ) -> (maps: [CompiledObject.Map], functions: [CompiledObject.Function]) {
        var maps: [CompiledObject.Map] = []
        var functions: [CompiledObject.Function] = []
        for exit in routing?.directions ?? [] {
            maps.append(
                CompiledObject.Map(
                    arrayName(exit: exit), .programArray, keySize: 4, valueSize: 4, entries: programArraySize))
            var code = BPFAssembler()
            emitDispatcher(exit: exit, arrayMap: firstMap + maps.count - 1, into: &code)
            functions.append(
                CompiledObject.Function(
                    name: dispatcherName(exit: exit), instructions: code.instructions,
                    mapReferences: code.mapReferences))
        }
        return (maps, functions)
    }

    /// A routed probe's context (the raw tracepoint's), its task's status word, the record
    /// it rebuilds, and the argument registers it reads (`pt_regs` from `r10` to `di`).
    static let contextAt = -40
    private static let statusAt = -48
    private static let recordAt = -112
    private static let registersAt = -176
    /// `offsetof(struct pt_regs, r10)` and `orig_ax` on x86-64, and each syscall argument's
    /// register: `di`, `si`, `dx`, `r10`, `r8`, `r9`.
    private static let registersStart = 56
    private static let originalAX = 120
    private static let argumentRegisters = [112, 104, 96, 56, 72, 64]

    /// A dispatcher: tail-calls the program in its array's entry for the syscall's number
    /// (`args[1]` at the entry; `pt_regs->orig_ax` at the exit, where `args[1]` is `ret`).
    /// An empty entry, or a number past the array (-1), falls through to `return 0`.
    static func emitDispatcher(exit: Bool, arrayMap: Int, into code: inout BPFAssembler) {
        code.move(.r6, .r1)
        if exit {
            code.load(.r3, size: 8, from: .r6, offset: 0)
            code.add(.r3, Int32(originalAX))
            code.move(.r1, .frame)
            code.add(.r1, -8)
            code.move(.r2, 8)
            code.call(.probeRead)
            code.exitIfNotEqual(.r0, 0)
            code.load(.r3, size: 8, from: .frame, offset: -8)
        } else {
            code.load(.r3, size: 8, from: .r6, offset: 8)
        }
        code.move(.r1, .r6)
        code.loadMap(.r2, map: arrayMap)
        code.call(.tailCall)
        code.finish()
    }

    /// A routed probe's start: leaves a 32-bit syscall (`TS_COMPAT`), as the syscall
    /// tracepoints do, then rebuilds the tracepoint's record on the stack and points `r6`
    /// at it, the raw tracepoint's context kept at ``contextAt`` for the output.
    static func emitRecord(
        of route: SyscallRouting.Route, compatStatusOffset: Int, into code: inout BPFAssembler
    ) {
        code.move(.r6, .r1)
        code.store(size: 8, to: .frame, offset: contextAt, .r6)
        code.call(.getCurrentTask)
        code.move(.r3, .r0)
        code.add(.r3, Int32(compatStatusOffset))
        code.move(.r1, .frame)
        code.add(.r1, Int32(statusAt))
        code.move(.r2, 4)
        code.call(.probeRead)
        code.exitIfNotEqual(.r0, 0)
        code.load(.r1, size: 4, from: .frame, offset: statusAt)
        code.and(.r1, compatFlag)
        code.exitIfNotEqual(.r1, 0)
        let size = recordSize(exit: route.exit)
        for word in stride(from: 0, to: size, by: 8) {
            code.store(size: 8, to: .frame, offset: recordAt + word, Int32(0))
        }
        code.store(size: 4, to: .frame, offset: recordAt + 8, Int32(route.number))
        if route.exit {
            code.load(.r1, size: 8, from: .r6, offset: 8)
            code.store(size: 8, to: .frame, offset: recordAt + 16, .r1)
        } else if route.readsArguments {
            // One read of the registers from r10 to di, then each argument into its place.
            code.load(.r3, size: 8, from: .r6, offset: 0)
            code.add(.r3, Int32(registersStart))
            code.move(.r1, .frame)
            code.add(.r1, Int32(registersAt))
            code.move(.r2, Int32(argumentRegisters.max()! + 8 - registersStart))
            code.call(.probeRead)
            code.exitIfNotEqual(.r0, 0)
            for (index, register) in argumentRegisters.enumerated() {
                code.load(.r1, size: 8, from: .frame, offset: registersAt + register - registersStart)
                code.store(size: 8, to: .frame, offset: recordAt + 16 + 8 * index, .r1)
            }
        }
        code.move(.r6, .frame)
        code.add(.r6, Int32(recordAt))
    }
}
