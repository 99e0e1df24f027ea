@testable import EBPF
@testable import EBPFProgram
import XCTest

/// What a uprobe by name leaves out: a function that only jumps to another it selects.
final class JumpThunkTests: XCTestCase {
    /// The shape of Swift's thunks in an optimized build, as objdump shows one in a release
    /// build of ebpf-bench: swift-metrics' protocol witness for `makeCounter` at 0x25d40 is
    /// `push %rbp; mov %rsp,%rbp; pop %rbp; jmp 26440` (the method itself).
    func testSwiftsThunkShape() {
        let bytes: [UInt8] = [0x55, 0x48, 0x89, 0xE5, 0x5D, 0xE9, 0xF6, 0x06, 0x00, 0x00, 0x66, 0x90]
        XCTAssertEqual(JumpThunk.target(of: bytes, at: 0x25D40), 0x26440)
    }

    func testJumpsWithAndWithoutEndbrAndFrame() {
        XCTAssertEqual(JumpThunk.target(of: [0xE9, 0x10, 0x00, 0x00, 0x00], at: 0x1000), 0x1015)
        XCTAssertEqual(JumpThunk.target(of: [0xEB, 0xFE], at: 0x2000), 0x2000)
        XCTAssertEqual(JumpThunk.target(of: [0xF3, 0x0F, 0x1E, 0xFA, 0xEB, 0x02], at: 0x3000), 0x3008)
        XCTAssertNil(JumpThunk.target(of: [0x55, 0x48, 0x89, 0xE5, 0x48, 0x83, 0xEC, 0x10], at: 0x1000), "a body")
        XCTAssertNil(JumpThunk.target(of: [0xE9, 0x10], at: 0x1000), "cut short")
        XCTAssertNil(JumpThunk.target(of: [], at: 0x1000))
    }

    /// Of a thunk and the copy it jumps to, only the copy is kept; a tail call to a function
    /// not selected, and a function jumping to itself, stay.
    func testOnlyThunksToAnotherSelectedFunctionAreLeftOut() {
        func named(_ address: UInt64) -> NamedFunction {
            NamedFunction(
                function: ELFFunction(
                    symbol: "f\(address)", address: address, size: 16, fileOffset: address, isGlobal: true),
                name: "M.f(_:)")
        }
        let code: [UInt64: [UInt8]] = [
            0x100: [0x55, 0x48, 0x89, 0xE5, 0x5D, 0xE9, 0xF6, 0x00, 0x00, 0x00],  // jmp 0x200
            0x200: [0x55, 0x48, 0x89, 0xE5, 0x48, 0x83, 0xEC, 0x10],
            0x300: [0xE9, 0xFB, 0x0C, 0x00, 0x00],  // jmp 0x1000, not selected
        ]
        let kept = JumpThunk.removing(from: [named(0x100), named(0x200), named(0x300)]) {
            code[$0.function.address]
        }
        XCTAssertEqual(kept.map(\.function.address), [0x200, 0x300])
        XCTAssertEqual(JumpThunk.removing(from: [named(0x100)]) { code[$0.function.address] }.count, 1, "alone")
    }
}
