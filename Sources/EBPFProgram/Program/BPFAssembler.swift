import EBPFKernel

/// Writes eBPF instructions (the kernel's `struct bpf_insn`, 8 bytes each) for programs the
/// library builds without clang, in the form ``CompiledObject`` keeps them: map references
/// recorded beside the code, their `imm` left zero.
///
/// Only what the generated probes use: 64-bit moves and arithmetic with a constant, memory
/// loads and stores, helper calls, forward jumps to the exit and to labels.
package struct BPFAssembler {
    /// A register: `r0` (return values), `r1`–`r5` (helper arguments, clobbered by calls),
    /// `r6`–`r9` (kept across calls), `r10` (read-only frame pointer).
    package struct Register: Equatable {
        package let number: UInt8
        package static let r0 = Register(number: 0), r1 = Register(number: 1), r2 = Register(number: 2)
        package static let r3 = Register(number: 3), r4 = Register(number: 4), r5 = Register(number: 5)
        package static let r6 = Register(number: 6), r7 = Register(number: 7), r8 = Register(number: 8)
        package static let r9 = Register(number: 9), frame = Register(number: 10)
    }

    /// The kernel's helper function numbers (`enum bpf_func_id` in `linux/bpf.h`).
    package enum Helper: Int32 {
        case mapLookupElement = 1
        case mapUpdateElement = 2
        case mapDeleteElement = 3
        case probeRead = 4
        case ktimeGetNanoseconds = 5
        case getSMPProcessorID = 8
        case getCurrentPIDTGID = 14
        case getCurrentUIDGID = 15
        case tailCall = 12
        case getCurrentComm = 16
        case perfEventOutput = 25
        case getCurrentTask = 35
        case getCurrentCgroupID = 80
        case currentTaskUnderCgroup = 37
        case probeReadUser = 112
        case probeReadKernel = 113
        case probeReadUserString = 114
        case probeReadKernelString = 115
        case ringbufReserve = 131
        case ringbufSubmit = 132
        case ringbufQuery = 134
    }

    package private(set) var instructions: [UInt64] = []
    package private(set) var mapReferences: [CompiledObject.MapReference] = []
    /// Jumps to the exit label, patched by ``finish()``.
    private var exitJumps: [Int] = []
    /// Forward jumps to labels not yet placed, by label.
    private var labelJumps: [Int: [Int]] = [:]
    private var labelCount = 0

    package init() {}

    /// A place in the code forward jumps go to, placed once with ``place(_:)``.
    package struct Label {
        fileprivate let number: Int
    }

    // Opcodes: class | operation | source (linux/bpf_common.h, linux/bpf.h).
    private static let alu64MoveConstant: UInt8 = 0xB7, alu64MoveRegister: UInt8 = 0xBF
    private static let alu32MoveConstant: UInt8 = 0xB4
    private static let alu64AddConstant: UInt8 = 0x07, alu64AddRegister: UInt8 = 0x0F
    private static let alu64ShiftRightConstant: UInt8 = 0x77, alu64AndConstant: UInt8 = 0x57
    private static let jumpIfEqualConstant: UInt8 = 0x15, jumpIfNotEqualConstant: UInt8 = 0x55
    private static let jumpIfNotEqualRegister: UInt8 = 0x5D, jumpIfLessOrEqualConstant: UInt8 = 0xB5
    private static let jump32IfNotEqualConstant: UInt8 = 0x56
    private static let call: UInt8 = 0x85, exit: UInt8 = 0x95

    /// `BPF_LDX | BPF_MEM | size`, `BPF_STX | BPF_MEM | size`, `BPF_ST | BPF_MEM | size`.
    private static func load(size: Int) -> UInt8 { 0x61 | sizeBits(size) }
    private static func store(size: Int) -> UInt8 { 0x63 | sizeBits(size) }
    private static func storeConstant(size: Int) -> UInt8 { 0x62 | sizeBits(size) }
    private static func sizeBits(_ size: Int) -> UInt8 {
        switch size {
        case 1: return 0x10
        case 2: return 0x08
        case 4: return 0x00
        case 8: return 0x18
        default: preconditionFailure("no \(size)-byte memory access in BPF")
        }
    }

    /// One instruction word: `code`, `dst_reg`, `src_reg`, `off`, `imm`, little-endian.
    package static func word(
        _ code: UInt8, _ destination: Register, _ source: Register, _ offset: Int16, _ immediate: Int32
    )
        -> UInt64
    {
        UInt64(code) | UInt64(destination.number) << 8 | UInt64(source.number) << 12
            | UInt64(UInt16(bitPattern: offset)) << 16 | UInt64(UInt32(bitPattern: immediate)) << 32
    }

    private mutating func append(
        _ code: UInt8, _ destination: Register = .r0, _ source: Register = .r0, offset: Int = 0, immediate: Int32 = 0
    ) {
        instructions.append(Self.word(code, destination, source, Int16(offset), immediate))
    }

    /// `destination = value` (sign-extended to 64 bits).
    package mutating func move(_ destination: Register, _ value: Int32) {
        append(Self.alu64MoveConstant, destination, immediate: value)
    }

    /// `destination = (u64)(u32)value`: a 32-bit move, zero-extended.
    package mutating func move32(_ destination: Register, _ value: UInt32) {
        append(Self.alu32MoveConstant, destination, immediate: Int32(bitPattern: value))
    }

    package mutating func move(_ destination: Register, _ source: Register) {
        append(Self.alu64MoveRegister, destination, source)
    }

    /// `destination = value` for any 64-bit constant (a two-instruction `ld_imm64`).
    package mutating func load64(_ destination: Register, _ value: UInt64) {
        append(CompiledObject.loadImmediate64, destination, immediate: Int32(truncatingIfNeeded: value))
        append(0, immediate: Int32(truncatingIfNeeded: value >> 32))
    }

    /// `destination = <descriptor of map number map>` (`ld_imm64`, `src_reg` = `BPF_PSEUDO_MAP_FD`).
    package mutating func loadMap(_ destination: Register, map: Int) {
        mapReferences.append(CompiledObject.MapReference(instruction: instructions.count, map: map))
        append(CompiledObject.loadImmediate64, destination, Register(number: 1))
        append(0)
    }

    package mutating func add(_ destination: Register, _ value: Int32) {
        append(Self.alu64AddConstant, destination, immediate: value)
    }

    package mutating func add(_ destination: Register, _ source: Register) {
        append(Self.alu64AddRegister, destination, source)
    }

    package mutating func shiftRight(_ destination: Register, _ bits: Int32) {
        append(Self.alu64ShiftRightConstant, destination, immediate: bits)
    }

    package mutating func and(_ destination: Register, _ mask: Int32) {
        append(Self.alu64AndConstant, destination, immediate: mask)
    }

    /// `destination = *(u<size*8> *)(base + offset)`, zero-extended.
    package mutating func load(_ destination: Register, size: Int, from base: Register, offset: Int) {
        append(Self.load(size: size), destination, base, offset: offset)
    }

    /// `*(u<size*8> *)(base + offset) = source` (its low `size` bytes).
    package mutating func store(size: Int, to base: Register, offset: Int, _ source: Register) {
        append(Self.store(size: size), base, source, offset: offset)
    }

    /// `*(u<size*8> *)(base + offset) = value`.
    package mutating func store(size: Int, to base: Register, offset: Int, _ value: Int32) {
        append(Self.storeConstant(size: size), base, offset: offset, immediate: value)
    }

    /// Calls a helper with `r1`–`r5`; its result is in `r0`, `r1`–`r5` are clobbered.
    package mutating func call(_ helper: Helper) {
        append(Self.call, immediate: helper.rawValue)
    }

    /// Skips the next instruction unless `register` ≤ `value` (unsigned).
    package mutating func skipNextIfLessOrEqual(_ register: Register, _ value: Int32) {
        append(Self.jumpIfLessOrEqualConstant, register, offset: 1, immediate: value)
    }

    /// Skips the next instruction when `register` == `value`.
    package mutating func skipNextIfEqual(_ register: Register, _ value: Int32) {
        append(Self.jumpIfEqualConstant, register, offset: 1, immediate: value)
    }

    /// Jumps to the exit when `register` == `value`.
    package mutating func exitIfEqual(_ register: Register, _ value: Int32) {
        exitJumps.append(instructions.count)
        append(Self.jumpIfEqualConstant, register, immediate: value)
    }

    /// Jumps to the exit when `register` != `value` (64-bit compare, `value` sign-extended).
    package mutating func exitIfNotEqual(_ register: Register, _ value: Int32) {
        exitJumps.append(instructions.count)
        append(Self.jumpIfNotEqualConstant, register, immediate: value)
    }

    /// Jumps to the exit when the low 32 bits of `register` != `value`.
    package mutating func exitIfNotEqual32(_ register: Register, _ value: UInt32) {
        exitJumps.append(instructions.count)
        append(Self.jump32IfNotEqualConstant, register, immediate: Int32(bitPattern: value))
    }

    /// Jumps to the exit when `register` != `other`.
    package mutating func exitIfNotEqual(_ register: Register, _ other: Register) {
        exitJumps.append(instructions.count)
        append(Self.jumpIfNotEqualRegister, register, other)
    }

    package mutating func newLabel() -> Label {
        labelCount += 1
        return Label(number: labelCount)
    }

    /// Jumps forward to `label` when `register` == `value`.
    package mutating func jumpIfEqual(_ register: Register, _ value: Int32, to label: Label) {
        labelJumps[label.number, default: []].append(instructions.count)
        append(Self.jumpIfEqualConstant, register, immediate: value)
    }

    /// Jumps forward to `label` when `register` != `value`.
    package mutating func jumpIfNotEqual(_ register: Register, _ value: Int32, to label: Label) {
        labelJumps[label.number, default: []].append(instructions.count)
        append(Self.jumpIfNotEqualConstant, register, immediate: value)
    }

    /// A jump's comparison (`BPF_JMP`'s operations): unsigned unless named signed.
    package enum Condition: UInt8 {
        case equal = 0x10
        case greater = 0x20
        case greaterOrEqual = 0x30
        case notEqual = 0x50
        case signedGreater = 0x60
        case signedGreaterOrEqual = 0x70
        case less = 0xA0
        case lessOrEqual = 0xB0
        case signedLess = 0xC0
        case signedLessOrEqual = 0xD0
    }

    /// Jumps forward to `label` when `register` compares so with `value` (sign-extended).
    package mutating func jump(if condition: Condition, _ register: Register, _ value: Int32, to label: Label) {
        labelJumps[label.number, default: []].append(instructions.count)
        append(0x05 | condition.rawValue, register, immediate: value)
    }

    /// Jumps forward to `label` when `register` compares so with `other`.
    package mutating func jump(if condition: Condition, _ register: Register, _ other: Register, to label: Label) {
        labelJumps[label.number, default: []].append(instructions.count)
        append(0x05 | condition.rawValue | 0x08, register, other)
    }

    /// Jumps forward to `label`.
    package mutating func jump(to label: Label) {
        labelJumps[label.number, default: []].append(instructions.count)
        append(0x05)
    }

    /// Jumps to the exit when `register` compares so with `value` (sign-extended).
    package mutating func exit(if condition: Condition, _ register: Register, _ value: Int32) {
        exitJumps.append(instructions.count)
        append(0x05 | condition.rawValue, register, immediate: value)
    }

    /// Jumps to the exit.
    package mutating func exitNow() {
        exitJumps.append(instructions.count)
        append(0x05)
    }

    package mutating func subtract(_ destination: Register, _ source: Register) {
        append(0x1F, destination, source)
    }

    /// `destination /= source`, unsigned (0 when `source` is 0).
    package mutating func divide(_ destination: Register, _ source: Register) {
        append(0x3F, destination, source)
    }

    package mutating func shiftLeft(_ destination: Register, _ bits: Int32) {
        append(0x67, destination, immediate: bits)
    }

    /// `destination >>= bits`, the sign bit copied in.
    package mutating func arithmeticShiftRight(_ destination: Register, _ bits: Int32) {
        append(0xC7, destination, immediate: bits)
    }

    package mutating func or(_ destination: Register, _ source: Register) {
        append(0x4F, destination, source)
    }

    /// Puts `label` here: the jumps to it land on the next instruction.
    package mutating func place(_ label: Label) {
        for jump in labelJumps.removeValue(forKey: label.number) ?? [] { patch(jump, to: instructions.count) }
    }

    private mutating func patch(_ jump: Int, to target: Int) {
        let offset = Int16(target - jump - 1)
        instructions[jump] = instructions[jump] & ~(UInt64(0xFFFF) << 16) | UInt64(UInt16(bitPattern: offset)) << 16
    }

    /// Ends the program with `return 0` (the exit label) and points every exit jump there.
    package mutating func finish() {
        precondition(labelJumps.isEmpty, "a label was jumped to but never placed")
        let exit = instructions.count
        for jump in exitJumps { patch(jump, to: exit) }
        exitJumps.removeAll()
        move(.r0, 0)
        append(Self.exit)
    }
}
