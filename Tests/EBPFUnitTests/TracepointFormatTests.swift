@_spi(Generator) @testable import EBPF
import Foundation
import XCTest
@testable import EBPFKernel

/// The format parser on real format files copied from this kernel (Fixtures/formats).
final class TracepointFormatTests: XCTestCase {
    static func fixture(_ name: String) throws -> String {
        let url = try XCTUnwrap(
            Bundle.module.url(forResource: name, withExtension: "format", subdirectory: "Fixtures/formats"))
        return try String(contentsOf: url, encoding: .utf8)
    }

    static func format(_ category: String, _ name: String) throws -> TracepointFormat {
        try TracepointFormat(category: category, name: name, parsing: fixture("\(category)_\(name)"))
    }

    func testBindHasItsThreeArgumentsWithKernelSizes() throws {
        let format = try Self.format("syscalls", "sys_enter_bind")
        XCTAssertEqual(format.id, 2238)
        XCTAssertEqual(format.fields.map(\.name), ["fd", "umyaddr", "addrlen"])
        XCTAssertEqual(format.fields.map(\.type), ["int", "struct sockaddr *", "int"])
        XCTAssertEqual(format.fields.map(\.offset), [16, 24, 32])
        XCTAssertEqual(format.fields.map(\.size), [8, 8, 8], "syscall arguments are 8 bytes, whatever their C type")
        XCTAssertEqual(
            format.commonFields.map(\.name), ["common_type", "common_flags", "common_preempt_count", "common_pid"])
        XCTAssertFalse(format.fields.contains { $0.name == "__syscall_nr" })
    }

    func testStringsArraysAndDataLoc() throws {
        let openat = try Self.format("syscalls", "sys_enter_openat")
        XCTAssertEqual(openat.fields.map(\.name), ["dfd", "filename", "flags", "mode"])
        XCTAssertEqual(openat.fields[1].type, "const char *")
        XCTAssertEqual(openat.fields[3].type, "umode_t")

        let execve = try Self.format("syscalls", "sys_enter_execve")
        XCTAssertEqual(execve.fields.map(\.type), ["const char *", "const char *const *", "const char *const *"])

        let exec = try Self.format("sched", "sched_process_exec")
        XCTAssertEqual(exec.fields.map(\.name), ["filename", "pid", "old_pid"])
        XCTAssertTrue(exec.fields[0].isDynamic)
        XCTAssertEqual(exec.fields[0].type, "char[]")
        XCTAssertEqual(exec.fields[0].size, 4)

        let signal = try Self.format("signal", "signal_generate")
        let comm = try XCTUnwrap(signal.fields.first { $0.name == "comm" })
        XCTAssertEqual(comm.arrayLength, 16)
        XCTAssertEqual(comm.type, "char[16]")
        XCTAssertEqual(comm.offset, 20)

        let exit = try Self.format("syscalls", "sys_exit_openat")
        XCTAssertEqual(exit.fields.map(\.name), ["ret"])
        XCTAssertTrue(exit.fields[0].isSigned)
    }

    func testEveryFixtureParses() throws {
        let directory = try XCTUnwrap(
            Bundle.module.url(forResource: "formats", withExtension: nil, subdirectory: "Fixtures"))
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter {
            $0.hasSuffix(".format")
        }
        XCTAssertGreaterThanOrEqual(files.count, 10)
        for file in files {
            let text = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
            let format = try TracepointFormat(category: "c", name: "n", parsing: text)
            XCTAssertFalse(format.commonFields.isEmpty, file)
            for field in format.fields { XCTAssertGreaterThan(field.size, 0, "\(file) \(field)") }
        }
    }

    func testMalformedInputThrowsInsteadOfCrashing() {
        let bad = [
            "",
            "name: x\nformat:\n",
            "\tfield:int fd;\toffset:abc;\tsize:8;\tsigned:0;",
            "\tfield:int fd;\tsize:8;\tsigned:0;",
            "\tfield:int fd;\toffset:-4;\tsize:8;\tsigned:0;",
            "\tfield:int fd;\toffset:99999999;\tsize:8;\tsigned:0;",
            "\tfield:;\toffset:0;\tsize:8;\tsigned:0;",
            "\tfield:int;\toffset:0;\tsize:8;\tsigned:0;",
            "\tfield:int fd[0];\toffset:0;\tsize:8;\tsigned:0;",
            "\tfield:char comm[3];\toffset:0;\tsize:16;\tsigned:0;",
            "\tfield:int x; }; int y;\toffset:0;\tsize:4;\tsigned:0;",
            "\tfield:int a-b;\toffset:0;\tsize:4;\tsigned:0;",
            "\tfield:int f\u{E9};\toffset:0;\tsize:4;\tsigned:0;",
            "\tfield:int \u{E9}t\u{E9};\toffset:0;\tsize:4;\tsigned:0;",
            "\tfield",
            "\tfield:int fd;\toffset:8;\tsize:;",
            String(repeating: "field:", count: 1000),
        ]
        for text in bad {
            XCTAssertThrowsError(
                try TracepointFormat(category: "c", name: "n", parsing: text), NameValidation.quoted(text)
            ) { error in
                XCTAssertEqual((error as! EBPFError).code, .invalidFormat)
            }
        }
    }
}
