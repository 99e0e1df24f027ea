@_spi(Generator) @testable import EBPF
import XCTest

/// The program generator, without a kernel: layout, text and filters.
final class ProbeProgramTests: XCTestCase {
    func testBindRecordIsSizedFromTheFormat() throws {
        let format = try TracepointFormatTests.format("syscalls", "sys_enter_bind")
        let program = try ProbeProgram(
            resolved: .tracepoint(category: "syscalls", name: "sys_enter_bind"), format: format,
            filter: ProbeFilter(), options: .default)
        XCTAssertEqual(program.eventName, "syscalls:sys_enter_bind")
        let fields = program.layout.fields
        XCTAssertEqual(fields.map(\.name), ["fd", "umyaddr", "addrlen"])
        // int fd: 4 bytes, signed, right after the 56-byte header.
        XCTAssertEqual(fields[0].offset, 56)
        XCTAssertEqual(fields[0].size, 4)
        XCTAssertEqual(fields[0].kind, .signed)
        // struct sockaddr * with addrlen: copied, with its length.
        XCTAssertEqual(fields[1].kind, .socketAddress)
        XCTAssertEqual(fields[1].size, 128)
        XCTAssertNotNil(fields[1].lengthOffset)
        XCTAssertTrue(program.text.contains("bpf_probe_read_user(&e->f_umyaddr"), program.text)
        XCTAssertTrue(program.text.contains("_Static_assert(sizeof(struct ebpf_event) == \(program.layout.size)"))
    }

    /// The header's literal offsets (what ``ProbeEvent`` reads) pack its members in order,
    /// each at its natural alignment, as a C compiler lays out `struct ebpf_event`.
    func testHeaderOffsetsPackTheMembersAsC() {
        var end = 0
        for member in ProbeRecordHeader.members {
            let layout = member.layout
            XCTAssertEqual(layout.offset, SubmittedStructLayout.align(end, to: layout.elementSize), layout.name)
            end = layout.offset + layout.size
        }
        XCTAssertEqual(end, ProbeRecordHeader.Offset.end)
        XCTAssertEqual(ProbeRecordHeader.Offset.end, 56)
    }

    /// What a user can build without a kernel through the public initializers, and the
    /// header described once: every member asserted in the C, and the same offsets exposed.
    func testPublicInitializersBuildProgramsWithoutAKernel() throws {
        let text = try TracepointFormatTests.fixture("syscalls_sys_enter_connect")
        let format = try TracepointFormat(category: "syscalls", name: "sys_enter_connect", parsing: text)
        let tracepoint = try ProbeProgram(tracepoint: format, filter: ProbeFilter(processID: 42))
        XCTAssertEqual(tracepoint.eventName, "syscalls:sys_enter_connect")
        XCTAssertEqual(tracepoint.attachPoint, .tracepoint("syscalls:sys_enter_connect"))
        XCTAssertTrue(tracepoint.text.contains("if ((ebpf_id >> 32) != 42) return 0;"))
        let header = [
            ("timestamp", 0, 8), ("pid", 8, 4), ("tid", 12, 4), ("uid", 16, 4), ("gid", 20, 4), ("cpu", 24, 4),
            ("probe", 28, 4), ("comm", 32, 16), ("cgroup", 48, 8),
        ]
        XCTAssertEqual(
            tracepoint.recordFields.prefix(9).map { [$0.name, "\($0.offset)", "\($0.size)"] },
            header.map { [$0.0, "\($0.1)", "\($0.2)"] })
        for (name, offset, _) in header {
            XCTAssertTrue(
                tracepoint.text.contains(
                    "_Static_assert(__builtin_offsetof(struct ebpf_event, \(name)) == \(offset), "),
                "the C asserts \(name)'s offset")
        }
        XCTAssertEqual(tracepoint.recordFields.dropFirst(9).map(\.name), ["f_fd", "f_uservaddr", "f_addrlen"])

        let kprobe = try ProbeProgram(syscallFunction: "__x64_sys_connect", format: format)
        XCTAssertEqual(kprobe.eventName, "kprobe:__x64_sys_connect")
        XCTAssertTrue(kprobe.text.contains("(struct pt_regs *)PT_REGS_PARM1(ctx)"))
        let function = try ProbeProgram(kernelFunction: "tcp_v4_connect")
        XCTAssertEqual(function.recordFields.dropFirst(9).map(\.name), (0..<6).map { "f_arg\($0)" })
        XCTAssertThrowsError(try ProbeProgram(kernelFunction: "tcp_v4_connect; }")) { error in
            XCTAssertEqual((error as? EBPFError)?.code, .invalidArgument)
        }
        XCTAssertThrowsError(
            try ProbeProgram(tracepoint: TracepointFormat(category: "../x", name: "y", parsing: text))
        ) { error in
            XCTAssertEqual((error as? EBPFError)?.code, .invalidArgument)
        }
    }

    func testPointersBecomeStringsOrAddresses() throws {
        let execve = try TracepointFormatTests.format("syscalls", "sys_enter_execve")
        let program = try ProbeProgram(
            resolved: .tracepoint(category: "syscalls", name: "sys_enter_execve"), format: execve,
            filter: ProbeFilter(), options: ProbeOptions(stringSize: 64))
        XCTAssertEqual(program.layout.fields.map(\.kind), [.character, .strings, .strings])
        XCTAssertEqual(program.layout.fields[0].count, 64)
        XCTAssertEqual(program.layout.fields[1].count, 20, "argv: bcc execsnoop's 20 strings")
        XCTAssertEqual(program.layout.fields[1].elementSize, 128)
        XCTAssertTrue(program.text.contains("bpf_probe_read_user_str(&e->f_filename"))

        let exec = try TracepointFormatTests.format("sched", "sched_process_exec")
        let kernel = try ProbeProgram(
            resolved: .tracepoint(category: "sched", name: "sched_process_exec"), format: exec,
            filter: ProbeFilter(), options: .default)
        XCTAssertEqual(kernel.layout.fields.map(\.name), ["filename", "pid", "old_pid"])
        XCTAssertTrue(
            kernel.text.contains("bpf_probe_read_kernel_str(&e->f_filename"), "__data_loc strings live in the record")
    }

    func testAcceptsPeerAddressIsNotReadAtEntry() throws {
        let accept = try TracepointFormatTests.format("syscalls", "sys_enter_accept")
        let program = try ProbeProgram(
            resolved: .tracepoint(category: "syscalls", name: "sys_enter_accept"), format: accept,
            filter: ProbeFilter(), options: .default)
        XCTAssertEqual(program.layout.fields.first { $0.name == "upeer_sockaddr" }?.kind, .pointer)
    }

    func testFiltersAreCompiledAsNumbers() throws {
        let format = try TracepointFormatTests.format("syscalls", "sys_enter_bind")
        let program = try ProbeProgram(
            resolved: .tracepoint(category: "syscalls", name: "sys_enter_bind"), format: format,
            filter: ProbeFilter(processID: 42, threadID: 43, userID: 1000, processName: "a\"b"), options: .default)
        XCTAssertTrue(program.text.contains("if ((ebpf_id >> 32) != 42) return 0;"))
        XCTAssertTrue(program.text.contains("if ((u32)ebpf_id != 43) return 0;"))
        XCTAssertTrue(program.text.contains("if ((u32)ebpf_ugid != 1000) return 0;"))
        // "a\"b" NUL-padded, little-endian: 0x61, 0x22 (the quote, as a number), 0x62.
        XCTAssertTrue(
            program.text.contains("if (ebpf_comm_low != 0x622261ULL || ebpf_comm_high != 0x0ULL) return 0;"),
            program.text)
        XCTAssertFalse(program.text.contains("a\"b"))
    }

    func testBadFiltersAndOptionsThrow() throws {
        let format = try TracepointFormatTests.format("syscalls", "sys_enter_bind")
        let resolved = ResolvedPoint.tracepoint(category: "syscalls", name: "sys_enter_bind")
        for filter in [
            ProbeFilter(processID: 0), ProbeFilter(threadID: -1), ProbeFilter(processName: ""),
            ProbeFilter(processName: String(repeating: "x", count: 16)), ProbeFilter(processName: "a\nb"),
        ] {
            XCTAssertThrowsError(
                try ProbeProgram(resolved: resolved, format: format, filter: filter, options: .default)
            ) { error in
                XCTAssertEqual((error as! EBPFError).code, .invalidArgument)
            }
        }
        XCTAssertThrowsError(
            try ProbeProgram(
                resolved: resolved, format: format, filter: ProbeFilter(), options: ProbeOptions(stringSize: 0)))
    }

    func testSocketAddressDecoding() throws {
        var v4: [UInt8] = [2, 0, 0x7a, 0x69, 0, 0, 0, 0] + [UInt8](repeating: 0, count: 8)
        XCTAssertEqual(SocketAddress(bytes: v4)?.description, "0.0.0.0:31337")
        v4[4...7] = [127, 0, 0, 1]
        XCTAssertEqual(SocketAddress(bytes: v4)?.ip, "127.0.0.1")
        var v6 = [UInt8](repeating: 0, count: 28)
        v6[0] = 10
        v6[2] = 0x1f
        v6[3] = 0x90
        v6[23] = 1
        XCTAssertEqual(SocketAddress(bytes: v6)?.description, "[::1]:8080")
        let unix: [UInt8] = [1, 0] + Array("/run/x.sock".utf8) + [0]
        XCTAssertEqual(SocketAddress(bytes: unix)?.description, "/run/x.sock")
        let abstract: [UInt8] = [1, 0, 0] + Array("name".utf8)
        XCTAssertEqual(SocketAddress(bytes: abstract)?.path, "@name")
        // Found by the socket-address fuzzer: an unnamed Unix socket described as "".
        XCTAssertEqual(SocketAddress(bytes: [1, 0])?.description, "(unnamed)")
        XCTAssertNil(SocketAddress(bytes: [2]))
        XCTAssertEqual(SocketAddress(bytes: [2, 0, 1])?.description, "family 2", "too short for an IPv4 address")
    }
}
