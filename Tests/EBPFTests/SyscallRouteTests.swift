import CTestSupport
import EBPFKernel
import Foundation
import XCTest

@_spi(Generator) @testable import EBPF

/// Emitted syscall probes routed from the raw `sys_enter`/`sys_exit` tracepoints
/// (``SyscallRouting``) against the same probes compiled onto their perf tracepoints: the
/// same records, the same 32-bit syscalls skipped, and no perf event of their own.
final class SyscallRouteTests: XCTestCase {
    /// Six argument registers (sendto's), a syscall's exit (`ret`), and a tracepoint named
    /// otherwise than its syscall (`newuname` for uname): field by field as the tracepoints
    /// record them.
    func testRoutedProbesRecordWhatTheirTracepointsRecord() throws {
        try requireKernel()
        let routed = try EBPFWrapper(cache: nil, probeBuilder: .emitter)
        defer { routed.close() }
        let compiled = try EBPFWrapper(cache: nil, probeBuilder: .compiler)
        defer { compiled.close() }
        let targets: [AttachPoint] = [.syscall("sendto"), .syscallExit("openat"), .syscall("newuname")]
        var streams: [Collected<ProbeEvent>] = []
        for b in [routed, compiled] {
            let events = Collected<ProbeEvent>()
            try b.attach(targets, filter: ourThread) { events.append($0) }
            streams.append(events)
        }
        let attached = try BPFTool.perfAttachments(pid: getpid())
        XCTAssertEqual(
            attached.filter { $0.type == "raw_tracepoint" }.map(\.target).sorted(), ["sys_enter", "sys_exit"],
            "one dispatcher per direction: \(attached)")
        XCTAssertEqual(
            attached.filter { $0.type == "tracepoint" }.map(\.target).sorted(),
            ["sys_enter_newuname", "sys_enter_sendto", "sys_exit_openat"], "the compiled probes': \(attached)")

        let start = KernelClock.now()
        var message = [UInt8](repeating: 7, count: 77)
        var address = sockaddr_in()
        let sent = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(900_081, &message, 77, Int32(MSG_DONTWAIT), $0, 16)
            }
        }
        XCTAssertEqual(sent, -1)
        XCTAssertEqual(open("/nonexistent/ebpf-route-test", O_RDONLY), -1)
        var names = utsname()
        XCTAssertEqual(uname(&names), 0)
        let namesAddress = withUnsafePointer(to: &names) { UInt64(UInt(bitPattern: $0)) }

        for events in streams {
            XCTAssertTrue(waitUntil { events.all.filter { $0.timestamp >= start }.count >= 3 }, "\(events.all)")
        }
        XCTAssertTrue(waitForDeliveryOfEverythingWrittenSoFar(routed))
        XCTAssertTrue(waitForDeliveryOfEverythingWrittenSoFar(compiled))
        func ordered(_ events: Collected<ProbeEvent>) -> [ProbeEvent] {
            events.all.filter { $0.timestamp >= start }.sorted {
                ($0.eventName, $0.timestamp) < ($1.eventName, $1.timestamp)
            }
        }
        let (fromRoute, fromTracepoint) = (ordered(streams[0]), ordered(streams[1]))
        XCTAssertEqual(fromRoute.map(\.eventName), fromTracepoint.map(\.eventName))
        for (one, other) in zip(fromRoute, fromTracepoint) {
            XCTAssertEqual(one.fields, other.fields, one.eventName)
            XCTAssertEqual(one.processName, other.processName)
        }
        let byName = Dictionary(grouping: fromRoute, by: \.eventName)
        let send = try XCTUnwrap(byName["syscalls:sys_enter_sendto"]?.first)
        XCTAssertEqual(send.fd?.intValue, 900_081)
        XCTAssertEqual(send.len?.intValue, 77)
        XCTAssertEqual(send.flags?.intValue, Int(MSG_DONTWAIT))
        XCTAssertEqual(send.addr_len?.intValue, 16)
        XCTAssertEqual(
            byName["syscalls:sys_exit_openat"]?.map { $0.ret?.intValue }, [-Int(ENOENT)], "the failed open's return")
        XCTAssertEqual(byName["syscalls:sys_enter_newuname"]?.map { $0.name?.uint64Value }, [namesAddress])
    }

    /// A 32-bit syscall (`int $0x80`): getppid is number 64 there, semget's number among
    /// the 64-bit ones. The tracepoints skip it, and so do routed probes.
    func testA32BitSyscallIsDeliveredByNeitherPath() throws {
        try requireKernel()
        for builder in [ProbeBuilder.emitter, .compiler] {
            let b = try EBPFWrapper(cache: nil, probeBuilder: builder)
            defer { b.close() }
            let events = Collected<String>()
            try b.attach([.syscall("semget"), .syscall("getppid")], filter: ourThread) { events.append($0.eventName) }
            XCTAssertEqual(cts_ia32_getppid(), Int(getppid()), "\(builder)")
            XCTAssertTrue(waitUntil { events.count >= 1 }, "\(builder)")
            XCTAssertTrue(waitForDeliveryOfEverythingWrittenSoFar(b))
            XCTAssertEqual(events.all, ["syscalls:sys_enter_getppid"], "only the 64-bit call, \(builder)")
        }
    }

    /// Twelve routed probes hold no perf event: one raw tracepoint for all, gone with the
    /// last detach. A syscall asked twice in one call keeps its perf tracepoints (an entry
    /// of the program array routes to one program).
    func testRoutedProbesShareOneRawTracepoint() throws {
        try requireKernel()
        let b = try EBPFWrapper(cache: nil)
        defer { b.close() }
        let syscalls = [
            "getppid", "getpgid", "getsid", "getuid", "geteuid", "getgid", "getegid", "getpgrp", "fchdir", "getcwd",
            "sched_yield", "umask",
        ]
        let probes = try b.attach(syscalls.map { .syscall($0) }, filter: ourThread) { _ in }
        XCTAssertEqual(
            try BPFTool.perfAttachments(pid: getpid()).map(\.description),
            ["raw_tracepoint sys_enter (pid \(getpid()))"])
        Probe.detach(probes.dropLast())
        XCTAssertEqual(try BPFTool.perfAttachments(pid: getpid()).count, 1, "the last probe's dispatcher stays")
        probes.last?.detach()
        XCTAssertEqual(try BPFTool.perfAttachments(pid: getpid()), [])

        let twice = try b.attach([.syscall("getppid"), .syscall("getppid")], filter: ourThread) { _ in }
        XCTAssertEqual(
            try BPFTool.perfAttachments(pid: getpid()).map(\.type), ["tracepoint", "tracepoint"], "not routed")
        Probe.detach(twice)
    }
}
