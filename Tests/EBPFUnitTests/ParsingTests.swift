@_spi(Generator) @testable import EBPF
import XCTest
@testable import EBPFKernel

/// Pure parts: names, trace_pipe lines, CPU lists, syscall names.
final class ParsingTests: XCTestCase {
    func testIdentifiersAcceptPlainNames() throws {
        try NameValidation.identifier("sys_enter_bind", what: "name")
        try NameValidation.identifier("_x9", what: "name")
        try NameValidation.tracepointComponent("9p", what: "category")
        try NameValidation.symbol("tcp_v4_connect.isra.0", what: "symbol")
    }

    func testInjectionAttemptsAreRejected() {
        for bad in [
            "bind; }", "../../x", "a b", "a\nb", "x\"y", "", "1abc", "a/b", "tab\there",
            String(repeating: "a", count: 200),
        ] {
            XCTAssertThrowsError(try NameValidation.identifier(bad, what: "function name"), bad) { error in
                let error = error as! EBPFError
                XCTAssertEqual(error.code, .invalidArgument)
                XCTAssertTrue(error.message.contains("function name"), error.message)
            }
        }
        XCTAssertThrowsError(try NameValidation.binaryPath("/usr/lib/../../etc/passwd"))
        XCTAssertThrowsError(try NameValidation.binaryPath("/bin/ls\n"))
    }

    func testErrorMessageShowsTheOffendingCharacter() {
        XCTAssertThrowsError(try NameValidation.identifier("bind; }", what: "syscall name")) { error in
            let message = (error as! EBPFError).message
            XCTAssertTrue(message.contains("';' at offset 4"), message)
        }
    }

    /// Legacy probe event names: two attachments of one process to the same function get
    /// different events (they shared one before: the second attach failed, or one detach
    /// removed both), each a valid tracefs name.
    func testLegacyProbeEventNamesAreUniquePerAttachment() {
        let target = "/usr/lib/x86_64-linux-gnu/libc.so.6_0x" + String(repeating: "f", count: 40)
        let names = (0..<3).map { _ in ProbeEventName.make("p", target) } + [ProbeEventName.make("r", "do_sys_open")]
        XCTAssertEqual(Set(names).count, names.count, "\(names)")
        for name in names {
            XCTAssertLessThanOrEqual(name.utf8.count, 60, name)
            XCTAssertTrue(name.utf8.allSatisfy { $0 == UInt8(ascii: "_") || isalnum(Int32($0)) != 0 }, name)
            XCTAssertTrue(name.contains("_ebpf_\(getpid())_"), name)
        }
    }

    func testTracepointSplitting() throws {
        let (category, name) = try Tracefs.splitTracepoint("syscalls:sys_enter_bind")
        XCTAssertEqual(category, "syscalls")
        XCTAssertEqual(name, "sys_enter_bind")
        XCTAssertThrowsError(try Tracefs.splitTracepoint("sys_enter_bind"))
    }

    func testTraceLineParsing() throws {
        let line = try XCTUnwrap(
            TraceLine(parsing: "           <...>-12345   [001] d..31  5306.131713: bpf_trace_printk: hello 42"))
        XCTAssertEqual(line.task, "<...>")
        XCTAssertEqual(line.pid, 12345)
        XCTAssertEqual(line.cpu, 1)
        XCTAssertEqual(line.flags, "d..31")
        XCTAssertEqual(line.timestamp, 5306.131713, accuracy: 1e-9)
        XCTAssertEqual(line.message, "hello 42")

        let dashed = try XCTUnwrap(TraceLine(parsing: "  kworker/u4:2-x-77 [000] .... 12.5: bpf_trace_printk: a: b"))
        XCTAssertEqual(dashed.task, "kworker/u4:2-x")
        XCTAssertEqual(dashed.pid, 77)
        XCTAssertEqual(dashed.message, "a: b")

        let withTGID = try XCTUnwrap(TraceLine(parsing: "bash-10 (     10) [000] ..... 1.000001: bpf_trace_printk: x"))
        XCTAssertEqual(withTGID.pid, 10)
        XCTAssertEqual(withTGID.message, "x")

        XCTAssertNil(TraceLine(parsing: "CPU:1 [LOST 5 EVENTS]"))
        XCTAssertNil(TraceLine(parsing: ""))
    }

    func testCPUList() {
        XCTAssertEqual(SystemFiles.parseCPUList("0-3,5,7-8\n"), [0, 1, 2, 3, 5, 7, 8])
        XCTAssertEqual(SystemFiles.parseCPUList("0"), [0])
        XCTAssertEqual(SystemFiles.parseCPUList(""), [])
    }

    func testSyscallNameFromFunction() {
        XCTAssertEqual(KernelSymbols.syscallName(fromFunction: "__x64_sys_bind"), "bind")
        XCTAssertEqual(KernelSymbols.syscallName(fromFunction: "sys_clone"), "clone")
        XCTAssertNil(KernelSymbols.syscallName(fromFunction: "tcp_v4_connect"))
    }

    func testPerfBufferOptionsAreValidated() {
        XCTAssertThrowsError(try PerfBufferOptions(pageCount: 3).validate())
        XCTAssertThrowsError(try PerfBufferOptions(wakeupEvents: 0).validate())
        XCTAssertNoThrow(try PerfBufferOptions.default.validate())
        // About 16k records per CPU, a power of two from 256 to 2048 pages.
        XCTAssertEqual(PerfBufferOptions.automaticPageCount(recordSize: 0), 256)
        XCTAssertEqual(PerfBufferOptions.automaticPageCount(recordSize: 56), 256)
        XCTAssertEqual(PerfBufferOptions.automaticPageCount(recordSize: 120), 512)
        XCTAssertEqual(PerfBufferOptions.automaticPageCount(recordSize: 512), 4096 / 2)
        XCTAssertEqual(PerfBufferOptions.automaticPageCount(recordSize: 100_000), 2048)
    }

    /// Automatic ring sizes within the budget, for CPU counts this machine does not have:
    /// before the budget a buffer of 512-byte records took 2,048 pages per CPU, 1 GiB on
    /// 128 CPUs and 2 GiB on 256.
    func testAutomaticRingSizesStayWithinTheBudget() {
        let left = PerfBufferOptions.automaticBytesPerWrapper
        XCTAssertEqual(PerfRingBudget.pages(wanted: 2048, cpus: 2, bytesLeft: left), 2048, "16 MiB on 2 CPUs")
        XCTAssertEqual(PerfRingBudget.pages(wanted: 2048, cpus: 128, bytesLeft: left), 32, "16 MiB on 128 CPUs")
        XCTAssertEqual(PerfRingBudget.pages(wanted: 2048, cpus: 256, bytesLeft: left), 16)
        XCTAssertEqual(PerfRingBudget.pages(wanted: 2048, cpus: 1024, bytesLeft: left), 8, "never below 8 pages")
        XCTAssertEqual(PerfRingBudget.pages(wanted: 256, cpus: 2, bytesLeft: left), 256, "no more than wanted")
        XCTAssertEqual(
            PerfRingBudget.pages(wanted: 2048, cpus: 2, bytesLeft: 3 << 20), 256, "what the wrapper has left")
        XCTAssertEqual(PerfRingBudget.pages(wanted: 2048, cpus: 2, bytesLeft: 0), 8)

        // One wrapper on 128 CPUs: four buffers of large records fill its 64 MiB; the
        // fifth gets the minimum; closing one gives its share back.
        let budget = PerfRingBudget()
        let granted = (0..<5).map { _ in budget.reserve(wantedPages: 2048, cpus: 128) }
        XCTAssertEqual(granted, [32, 32, 32, 32, 8])
        budget.release(pagesPerCPU: 32, cpus: 128)
        XCTAssertEqual(budget.reserve(wantedPages: 2048, cpus: 128), 16, "16 MiB minus the fifth's 4 MiB")
    }
}

/// The one rule for a failed system call's code, as ``EBPFError`` documents it.
final class ErrnoCodeTests: XCTestCase {
    func testErrnoDecidesTheCodeOnlyWhereItSaysMore() {
        let cases: [(Int32, EBPFError.Code)] = [
            (EPERM, .permissionDenied), (EACCES, .permissionDenied), (ENOENT, .notFound),
            (EOPNOTSUPP, .notSupported), (ENOSYS, .notSupported), (EINVAL, .attachFailed), (EBUSY, .attachFailed),
        ]
        for (errno, code) in cases {
            let error = SystemCallFailure(call: "perf_event_open", errno: errno).error(
                .attachFailed, "could not attach")
            XCTAssertEqual(error.code, code, "errno \(errno)")
            XCTAssertEqual(error.errno, errno, "the number is kept")
            XCTAssertEqual(error.call, "perf_event_open")
        }
    }
}
