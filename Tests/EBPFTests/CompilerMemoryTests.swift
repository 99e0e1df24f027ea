@_spi(Generator) @testable import EBPF
import XCTest
@testable import EBPFKernel

/// What a compile leaves resident, and what ``CompilerMemory/release()`` gives back.
final class CompilerMemoryTests: XCTestCase {
    func testACompileLeavesCompilerCodeResidentAndReleaseDropsIt() throws {
        try requireKernel()
        try LibBCC.requireCompiler()
        let module = try LibBCC.withLock { () throws -> LibBCC.Module in
            try LibBCC.Module.compile(text: "int f(void *ctx) { return 0; }", cflags: [])
        }
        let afterCompile = ProcessMemory.compilerCodeResidentKiB()
        LibBCC.withLock { CompilerMemory.release() }
        let afterRelease = ProcessMemory.compilerCodeResidentKiB()
        _ = consume module
        XCTAssertGreaterThan(afterCompile, 10_000, "clang and LLVM run from these pages")
        XCTAssertLessThan(afterRelease, 1_024, "was \(afterCompile) KiB")
    }

    func testEveryCompileThroughTheLibraryReleases() throws {
        try requireKernel()
        let b = try EBPFWrapper(text: "int f(void *ctx) { return 0; }")
        defer { b.close() }
        XCTAssertLessThan(ProcessMemory.compilerCodeResidentKiB(), 1_024, "after the compile")
    }

    func testExecutableMappingsAreTheCompilerLibrariesCodeOnly() {
        let maps = """
            7f0000000000-7f0000100000 r--p 00000000 fe:00 332857    /usr/lib/x86_64-linux-gnu/libLLVM-14.so.1
            7f0000100000-7f0006262000 r-xp 00100000 fe:00 332857    /usr/lib/x86_64-linux-gnu/libLLVM-14.so.1
            7f0006263000-7f00069d7000 r--p 06162000 fe:00 332857    /usr/lib/x86_64-linux-gnu/libLLVM-14.so.1
            7f00069d7000-7f0006a00000 rw-p 068d6000 fe:00 332857    /usr/lib/x86_64-linux-gnu/libLLVM-14.so.1
            7f1000000000-7f1000400000 r-xp 00000000 fe:00 323394    /usr/lib/llvm-14/lib/libclang-cpp.so.14
            7f2000000000-7f2000200000 r-xp 00000000 fe:00 1         /usr/lib/x86_64-linux-gnu/libbcc.so.0.26.0
            7f3000000000-7f3000200000 r-xp 00000000 fe:00 2         /usr/lib/x86_64-linux-gnu/libc.so.6
            7f4000000000-7f4000001000 r-xp 00000000 00:00 0
            55aa00000000-55aa00100000 r-xp 00000000 fe:00 3         /work/.build/debug/ebpf-trace
            """
        let found = CompilerMemory.executableMappings(of: ProcessMappings(parsing: maps))
        XCTAssertEqual(found.map(\.start), [0x7f00_0010_0000, 0x7f10_0000_0000, 0x7f20_0000_0000])
        XCTAssertEqual(found.map(\.end), [0x7f00_0626_2000, 0x7f10_0040_0000, 0x7f20_0020_0000])
        XCTAssertEqual(found.last?.path, "/usr/lib/x86_64-linux-gnu/libbcc.so.0.26.0")
        XCTAssertTrue(CompilerMemory.executableMappings(of: ProcessMappings(parsing: "garbage\n1-2 r-xp\n")).isEmpty)
    }
}
