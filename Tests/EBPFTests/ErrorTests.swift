@_spi(Generator) @testable import EBPF
import Foundation
import XCTest

/// Bad input gets a thrown error that says what happened, and nothing is left attached.
final class ErrorTests: XCTestCase {
    func testCompileErrorCarriesClangDiagnostics() throws {
        try requireKernel()
        XCTAssertThrowsError(try EBPFWrapper(text: "int broken(void *ctx) {\n  return undefined_name;\n}\n")) { error in
            let error = error as! EBPFError
            XCTAssertEqual(error.code, .compilationFailed)
            let diagnostics = error.diagnostics ?? ""
            XCTAssertTrue(diagnostics.contains(":2:"), "diagnostics name the line: \(diagnostics)")
            XCTAssertTrue(diagnostics.contains("error:"), diagnostics)
            XCTAssertTrue(diagnostics.contains("undefined_name"), diagnostics)
            XCTAssertTrue(error.message.contains("undefined_name"), error.message)
            XCTAssertTrue(error.description.contains("undefined_name"))
        }
    }

    func testVerifierRejectionCarriesTheLog() throws {
        try requireKernel()
        let b = try EBPFWrapper(
            text: """
                int bad(void *ctx) {
                    int *p = (int *)0x1000;
                    return *p;
                }
                """)
        defer { b.close() }
        XCTAssertThrowsError(try b.attachTracepoint(tp: "syscalls:sys_enter_getppid", fnName: "bad")) { error in
            let error = error as! EBPFError
            XCTAssertEqual(error.code, .loadFailed)
            XCTAssertEqual(error.call, "bcc_func_load")
            let log = error.diagnostics ?? ""
            // `r1 = 0x1000; r0 = *(u32 *)(r1 + 0)`: the verifier names the register and why
            // ('scalar' on 6.x kernels, 'inv' before 5.19).
            XCTAssertTrue(log.contains("R1 invalid mem access '"), "verifier log: \(log)")
        }
        XCTAssertTrue(b.session.attachments.isEmpty)
    }

    func testUnknownFunctionAndTableNameTheOnesThatExist() throws {
        try requireKernel()
        let b = try EBPFWrapper(text: "BPF_PERF_OUTPUT(events);\nint real_fn(void *ctx) { return 0; }")
        defer { b.close() }
        XCTAssertEqual(try b.functionNames, ["real_fn"])
        XCTAssertEqual(try b.tableNames, ["events"])
        XCTAssertThrowsError(try b.attachTracepoint(tp: "syscalls:sys_enter_getppid", fnName: "missing_fn")) { error in
            let error = error as! EBPFError
            XCTAssertEqual(error.code, .functionNotFound)
            XCTAssertTrue(error.message.contains("real_fn"), error.message)
        }
        XCTAssertThrowsError(try b.table("missing_table").openPerfBuffer { _ in }) { error in
            let error = error as! EBPFError
            XCTAssertEqual(error.code, .tableNotFound)
            XCTAssertTrue(error.message.contains("events"), error.message)
        }
        // After close(), the lists throw as every other call does, rather than read as empty.
        b.close()
        XCTAssertThrowsError(try b.functionNames) { XCTAssertEqual(($0 as? EBPFError)?.code, .closed) }
        XCTAssertThrowsError(try b.tableNames) { XCTAssertEqual(($0 as? EBPFError)?.code, .closed) }
    }

    func testTracepointNamesAreValidatedAndCheckedBeforeAttaching() throws {
        try requireKernel()
        let b = try EBPFWrapper(text: "int f(void *ctx) { return 0; }")
        defer { b.close() }
        for bad in [
            "syscalls:sys_enter_bind; }", "../../x:y", "syscalls:../../../etc", "syscalls: sys_enter_bind", "nocolon",
        ] {
            XCTAssertThrowsError(try b.attachTracepoint(tp: bad, fnName: "f"), bad) { error in
                XCTAssertEqual((error as! EBPFError).code, .invalidArgument, bad)
            }
        }
        XCTAssertThrowsError(try b.attachTracepoint(tp: "syscalls:sys_enter_no_such_call", fnName: "f")) { error in
            let error = error as! EBPFError
            XCTAssertEqual(error.code, .notFound)
            XCTAssertTrue(error.message.contains("sys_enter_no_such_call"), error.message)
        }
        XCTAssertThrowsError(try b.attachTracepoint(tp: "syscalls:sys_enter_bind", fnName: "f; drop")) { error in
            XCTAssertEqual((error as! EBPFError).code, .invalidArgument)
        }
        XCTAssertThrowsError(try b.attach(function: "f", to: .rawTracepoint("no_such_raw_tp"))) { error in
            XCTAssertEqual((error as! EBPFError).code, .notFound)
        }
        XCTAssertThrowsError(try b.syscallFunctionName("bind; }"))
        XCTAssertTrue(b.session.attachments.isEmpty)
    }

    /// Flags that make clang read a file or load code are refused before anything is
    /// compiled: `-include FILE` put the file's lines into the error's diagnostics.
    func testCompilerFlagsThatReadFilesOrLoadCodeAreRefused() throws {
        try requireKernel()
        let secret = "/tmp/ebpf-secret-\(UUID().uuidString)"
        try "SECRET_LINE_FROM_A_FILE\n".write(toFile: secret, atomically: false, encoding: .utf8)
        defer { unlink(secret) }
        let text = "int f(void *c) { return 0; }"
        for flags in [
            ["-include", secret], ["-include\(secret)"], ["-Wp,-include,\(secret)"], ["-fplugin=/tmp/plugin.so"],
            ["-Xclang", "-load"], ["-D1X"], ["-D"], ["-I"], ["-O2"],
        ] {
            XCTAssertThrowsError(try EBPFWrapper(text: text, cflags: flags), "\(flags)") { error in
                let error = error as! EBPFError
                XCTAssertEqual(error.code, .invalidArgument, "\(flags): \(error)")
                XCTAssertTrue(error.message.contains("only -D<macro>[=value]"), "\(flags): \(error)")
                XCTAssertFalse(error.message.contains("SECRET_LINE"), "\(flags): the file was read")
            }
        }
        let b = try EBPFWrapper(
            text: "int f(void *c) { return MAX + VALUE; }",
            cflags: ["-DMAX=16", "-DVALUE", "-UNOTHING", "-I/usr/include", "-Wno-unused-value", "-Werror=format", "-w"])
        b.close()
    }

    func testBadCompilerFlagIsRejected() {
        XCTAssertThrowsError(
            try EBPFWrapper(text: "int f(void *c) { return 0; }", cflags: ["-DX=1\n#include </etc/shadow>"])
        ) { error in
            XCTAssertEqual((error as! EBPFError).code, .invalidArgument)
        }
    }
}
