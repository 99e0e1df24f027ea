import EBPFKernel
import Glibc
import XCTest

@_spi(Generator) @testable import EBPF

/// What the library leaves when the kernel refuses a call half-way, through the kernel
/// boundary's seam: a fault injected at `SystemCall.check` fails the named call as the kernel
/// would. Nothing may stay attached or open, and the wrapper must work again afterwards.
final class KernelFaultTests: XCTestCase {
    /// On both paths: a routed syscall probe's program array entry (emitted probes), a
    /// perf tracepoint's `perf_event_open` (compiled ones).
    func testAnAttachRefusedHalfWayLeavesNothingAttached() throws {
        try requireKernel()
        for (builder, call) in [
            (ProbeBuilder.emitter, "bpf_update_elem(program array)"), (.compiler, "perf_event_open(tracepoint)"),
        ] {
            let b = try EBPFWrapper(cache: nil, probeBuilder: builder)
            defer { b.close() }
            let before = ThisProcess.openFileDescriptors
            let events = Collected<String>()
            let points: [AttachPoint] = [.syscall("getppid"), .syscall("getsid"), .syscall("getpgid")]
            let (error, failures) = thrown(by: [SystemCall.Fault(call, errno: EBUSY, skip: 1)]) {
                _ = try b.attach(points, filter: ourThread) { events.append($0.eventName) }
            }
            XCTAssertEqual(failures, 1, "the second point's attach failed")
            XCTAssertEqual(error?.call, call)
            XCTAssertEqual(error?.errno, EBUSY)
            XCTAssertEqual(error?.code, .attachFailed)
            XCTAssertTrue(b.session.probes.isEmpty, "the first point's probe was detached again")
            // The polling thread, idle again, closes its own descriptors on its way out.
            XCTAssertTrue(
                waitUntil { ThisProcess.openFileDescriptors == before },
                "its program and buffer were freed: \(ThisProcess.openFileDescriptors) descriptors, \(before) before")
            XCTAssertEqual(try BPFTool.perfAttachments(pid: getpid()), [], "nothing attached")

            let probes = try b.attach(points, filter: ourThread) { events.append($0.eventName) }
            _ = getppid()
            _ = getsid(0)
            _ = getpgid(0)
            XCTAssertTrue(waitUntil { events.count == 3 })
            XCTAssertTrue(waitForDeliveryOfEverythingWrittenSoFar(b))
            XCTAssertEqual(
                events.all.sorted(),
                ["syscalls:sys_enter_getpgid", "syscalls:sys_enter_getppid", "syscalls:sys_enter_getsid"],
                "attached afterwards, each delivers its one event and nothing of the failed attempt")
            XCTAssertEqual(probes.map(\.receivedCount), [1, 1, 1])
        }
    }

    func testAPerfBufferRefusedOnItsLastCPULeavesNothingOpen() throws {
        try requireKernel()
        let b = try EBPFWrapper(
            text: """
                BPF_PERF_OUTPUT(hits);
                TRACEPOINT_PROBE(syscalls, sys_enter_getppid) {
                    u32 pid = bpf_get_current_pid_tgid() >> 32;
                    if (pid == TARGET_PID) hits.perf_submit(args, &pid, sizeof(pid));
                    return 0;
                }
                """, cflags: ["-DTARGET_PID=\(ThisProcess.pid)"])
        defer { b.close() }
        try b.attachTracepoint(tp: "syscalls:sys_enter_getppid", fnName: "tracepoint__syscalls__sys_enter_getppid")
        let table = try b.table("hits")
        let before = ThisProcess.openFileDescriptors
        let records = Collected<UInt32>()
        // The rings of every CPU but the last open; the last one's perf_event_open fails.
        let fault = SystemCall.Fault("perf_event_open(bpf-output)", errno: EMFILE, skip: table.possibleCPUs - 1)
        let (error, failures) = thrown(by: [fault]) {
            _ = try table.openPerfBuffer(as: UInt32.self) { records.append($0) }
        }
        XCTAssertEqual(failures, 1)
        XCTAssertEqual(error?.call, "perf_event_open(bpf-output)")
        XCTAssertEqual(error?.errno, EMFILE)
        XCTAssertEqual(b.session.openBufferCount, 0)
        XCTAssertEqual(ThisProcess.openFileDescriptors, before, "the rings already open were closed")

        let buffer = try table.openPerfBuffer(as: UInt32.self) { records.append($0) }
        _ = getppid()
        XCTAssertTrue(waitUntil { records.count == 1 })
        XCTAssertTrue(waitForDeliveryOfEverythingWrittenSoFar(b))
        XCTAssertEqual(records.all, [UInt32(ThisProcess.pid)])
        XCTAssertEqual(buffer.receivedCount, 1)
    }

    /// An emitted probe's program has two maps (the shared perf buffer, the probe's scratch
    /// array): the second's creation refused, the first is closed with the group that owns it.
    func testAProgramWhoseSecondMapIsRefusedLeavesNoMapOpen() throws {
        try requireKernel()
        let b = try EBPFWrapper(cache: nil)
        defer { b.close() }
        let before = ThisProcess.openFileDescriptors
        let events = Collected<Int32>()
        let (error, failures) = thrown(by: [SystemCall.Fault("bpf(BPF_MAP_CREATE)", errno: ENOMEM, skip: 1)]) {
            _ = try b.attach(.syscall("getppid"), filter: ourThread) { events.append($0.processID) }
        }
        XCTAssertEqual(failures, 1, "the second map's creation failed")
        XCTAssertEqual(error?.call, "bpf(BPF_MAP_CREATE)")
        XCTAssertEqual(error?.errno, ENOMEM)
        XCTAssertEqual(error?.code, .systemCallFailed)
        XCTAssertTrue(b.session.probes.isEmpty)
        XCTAssertEqual(ThisProcess.openFileDescriptors, before, "the first map was closed")

        let probe = try b.attach(.syscall("getppid"), filter: ourThread) { events.append($0.processID) }
        _ = getppid()
        XCTAssertTrue(waitUntil { events.count == 1 })
        XCTAssertTrue(waitForDeliveryOfEverythingWrittenSoFar(b))
        XCTAssertEqual(events.all, [ThisProcess.pid])
        XCTAssertEqual(probe.receivedCount, 1)
    }

    func testAMapReadTheKernelRefusesThrowsItsDocumentedCode() throws {
        try requireKernel()
        let b = try EBPFWrapper(text: "BPF_ARRAY(values, u64, 4);")
        defer { b.close() }
        let values = try b.table("values", key: UInt32.self, value: UInt64.self)
        try values.updateValue(7, forKey: 2)
        let (error, failures) = thrown(by: [SystemCall.Fault("bpf_lookup_elem", errno: EPERM)]) {
            _ = try values[2]
        }
        XCTAssertEqual(failures, 1)
        XCTAssertEqual(error?.code, .permissionDenied)
        XCTAssertEqual(error?.errno, EPERM)
        XCTAssertEqual(try values[2], 7, "read again once the kernel allows it")
    }

    /// What `body` threw (nil when nothing) with `faults` injected, and how many of them
    /// happened.
    func thrown(by faults: [SystemCall.Fault], _ body: () throws -> Void) -> (error: EBPFError?, failures: Int) {
        let (error, failures) = SystemCall.injecting(faults) { () -> EBPFError? in
            do {
                try body()
                return nil
            } catch {
                return error as? EBPFError
            }
        }
        return (error, failures)
    }
}
