import CTestSupport
@testable import EBPF
@testable import EBPFKernel
import EBPFProgram
import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// A call chain `outer → middle → inner` of this test binary, never inlined, whose stacks
/// `StackTests` records; and a function that only burns CPU, for `ProfileTests`.
enum StackFixture {
    @inline(never) static func outer(_ value: Int) -> Int { middle(value) &+ 1 }

    @inline(never) static func middle(_ value: Int) -> Int { inner(value) &+ 1 }

    @inline(never) static func inner(_ value: Int) -> Int { value &* 3 }

    /// How far into `inner` its frame is set up: x86-64's `push %rbp; mov %rsp,%rbp` are 4
    /// bytes. A uprobe there sees `inner`'s own frame, so a frame-pointer walk finds its
    /// caller; at the entry the return address into `middle` is not yet a frame, and the
    /// walk would skip `middle`.
    static let framePrologueSize: UInt64 = 4

    /// The frame set-up's bytes: `push %rbp` (55), `mov %rsp,%rbp` (48 89 e5).
    static let framePrologue: [UInt8] = [0x55, 0x48, 0x89, 0xE5]

    /// The first ``framePrologueSize`` bytes of the function `name` selects in this test
    /// binary, read from the file.
    static func firstBytes(of name: String) throws -> [UInt8] {
        let binary = SwiftFunctionFixture.binary
        let file = try FileDescriptor.open(binary, O_RDONLY)
        let function = try XCTUnwrap(
            FunctionSelection.select(name, from: try ELFFunctions.read(file), in: binary).first)
        return try file.read(at: function.function.fileOffset, count: Int(framePrologueSize))
    }

    /// Burns CPU on the calling thread until `seconds` of its own CPU time have passed; the
    /// loop's arithmetic is all inlined (transparent operators), so its samples land in
    /// this function.
    @inline(never) static func burn(cpuSeconds seconds: Double) -> UInt64 {
        var state: UInt64 = 1
        var spins: UInt64 = 0
        while threadCPUSeconds() < seconds {
            var step = 0
            while step < 100_000 {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                step &+= 1
            }
            spins &+= 1
        }
        return state &+ spins
    }

    /// Burns `seconds` of CPU on a new thread named `name` and returns once it is done.
    static func burnOnThread(named name: String, cpuSeconds seconds: Double) {
        let done = DispatchSemaphore(value: 0)
        let burner = Thread {
            XCTAssertEqual(cts_set_thread_name(name), 0)
            _ = burn(cpuSeconds: seconds)
            done.signal()
        }
        burner.start()
        XCTAssertEqual(done.wait(timeout: .now() + 600), .success)
    }

    static func threadCPUSeconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }

    /// Whether a frame is a sanitizer's runtime (`__tsan_read8`, `__asan_…`): under
    /// ThreadSanitizer the burner's loads and stores call into it, which keeps no frame
    /// pointer.
    static func isSanitizerRuntime(_ frame: String) -> Bool {
        ["__tsan", "__asan", "__sanitizer", "__interceptor", "__lsan", "__ubsan"].contains { frame.hasPrefix($0) }
    }
}
