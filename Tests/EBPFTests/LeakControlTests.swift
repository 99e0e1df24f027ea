@_spi(Generator) @testable import EBPF
import Foundation
import XCTest
@testable import EBPFKernel

/// LeakSanitizer's negative control. scripts/test.sh runs this test alone under
/// AddressSanitizer with EBPF_LEAK_CONTROL=1 and the suppressions of the real run, and
/// requires LeakSanitizer to report the libbcc module it leaks: a suppression broad enough to
/// hide a library object leaked from a test would make that run fail. Without the variable the
/// test compiles and frees a module, so it passes in every other run.
final class LeakControlTests: XCTestCase {
    func testLeakedLibbccModuleIsReported() throws {
        try requireKernel()
        try LibBCC.requireCompiler()
        let module = try LibBCC.Module.compile(text: "int leak_control(void *ctx) { return 0; }", cflags: [])
        XCTAssertEqual(module.functionNames, ["leak_control"])
        if ProcessInfo.processInfo.environment["EBPF_LEAK_CONTROL"] == "1" {
            module.leakForLeakSanitizerControl()
        }
    }
}
