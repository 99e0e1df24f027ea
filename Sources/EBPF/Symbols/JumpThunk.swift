/// A function whose code only jumps to another: the thunks an optimized Swift build leaves
/// in front of the code it calls (`push %rbp; mov %rsp,%rbp; pop %rbp; jmp TARGET`), as in
/// front of a specialized copy of a function, so that a name selecting both would count a
/// call through the thunk twice.
enum JumpThunk {
    /// The bytes to read at a function's start to recognize one.
    static let length = 16

    /// Where the code `bytes`, found at `address`, jumps to when that is all it does: an
    /// optional `endbr64`, optionally an empty frame set up and torn down, then a `jmp`
    /// (rel8 or rel32). nil for any other code.
    static func target(of bytes: [UInt8], at address: UInt64) -> UInt64? {
        var at = 0
        func take(_ expected: [UInt8]) -> Bool {
            guard bytes.count >= at + expected.count, Array(bytes[at..<at + expected.count]) == expected else {
                return false
            }
            at += expected.count
            return true
        }
        _ = take([0xF3, 0x0F, 0x1E, 0xFA])  // endbr64
        _ = take([0x55, 0x48, 0x89, 0xE5, 0x5D])  // push %rbp; mov %rsp,%rbp; pop %rbp
        guard at < bytes.count else { return nil }
        let displacement: Int64
        switch bytes[at] {
        case 0xE9 where bytes.count >= at + 5:
            displacement = Int64(
                Int32(bitPattern: bytes[at + 1..<at + 5].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }))
            at += 5
        case 0xEB where bytes.count >= at + 2:
            displacement = Int64(Int8(bitPattern: bytes[at + 1]))
            at += 2
        default:
            return nil
        }
        return UInt64(bitPattern: Int64(bitPattern: address) &+ Int64(at) &+ displacement)
    }

    /// `functions` without those that only jump to another of them: a call through such a
    /// thunk reaches the other too, and would be counted twice. `code` reads a function's
    /// first bytes (nil when it cannot).
    static func removing(from functions: [NamedFunction], code: (NamedFunction) -> [UInt8]?) -> [NamedFunction] {
        guard functions.count > 1 else { return functions }
        let addresses = Set(functions.map(\.function.address))
        return functions.filter { function in
            guard let bytes = code(function), let target = target(of: bytes, at: function.function.address) else {
                return true
            }
            return target == function.function.address || !addresses.contains(target)
        }
    }
}
