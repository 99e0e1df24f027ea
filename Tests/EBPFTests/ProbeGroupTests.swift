@_spi(Generator) @testable import EBPF
import Foundation
import XCTest

/// Probes attached together: one program, one compile, one perf buffer, each probe's events
/// its own.
final class ProbeGroupTests: XCTestCase {
    func testProbesAttachedTogetherCompileOnceAndDeliverEachOnesEvents() throws {
        try requireKernel()
        let b = try EBPFWrapper(cache: nil, probeBuilder: .compiler)
        defer { b.close() }
        let events = Collected<ProbeEvent>()
        let (probes, compiles) = try attachThreeSyscallProbes(b, into: events)
        XCTAssertEqual(compiles, 1, "one compile for three")
        XCTAssertEqual(
            probes.map(\.eventName),
            ["syscalls:sys_enter_getppid", "syscalls:sys_enter_getpgid", "syscalls:sys_enter_fchdir"])
        XCTAssertEqual(probes.map(\.program.functionName), ["ebpf_probe_0", "ebpf_probe_1", "ebpf_probe_2"])
        XCTAssertEqual(probes.map(\.program.tableName), ["ebpf_events", "ebpf_events", "ebpf_events"])
        XCTAssertEqual(probes.map(\.program.probeIndex), [0, 1, 2])
        XCTAssertEqual(Set(b.session.probes.map(ObjectIdentifier.init)), Set(probes.map(ObjectIdentifier.init)))

        let directory = open("/", O_RDONLY | O_DIRECTORY)
        defer { close(directory) }
        for _ in 0..<3 { _ = getppid() }
        let groups: [pid_t] = [0, ThisProcess.pid]
        for pid in groups { XCTAssertEqual(getpgid(pid), getpgrp()) }
        let cwd = open(".", O_RDONLY | O_DIRECTORY)
        defer { close(cwd) }
        XCTAssertEqual(fchdir(directory), 0)
        XCTAssertEqual(fchdir(cwd), 0)

        XCTAssertTrue(waitUntil { events.count >= 7 }, "\(events.all)")
        XCTAssertTrue(waitForDeliveryOfEverythingWrittenSoFar(b))
        let byName = Dictionary(grouping: events.inFiringOrder, by: \.eventName)
        XCTAssertEqual(byName["syscalls:sys_enter_getppid"]?.count, 3)
        XCTAssertEqual(byName["syscalls:sys_enter_getpgid"]?.map { $0.pid?.intValue }, groups.map { Int($0) })
        XCTAssertEqual(byName["syscalls:sys_enter_fchdir"]?.map { $0.fd?.intValue }, [Int(directory), Int(cwd)])
        XCTAssertEqual(events.count, 7)
        events.all.forEach { assertHeader($0) }
        XCTAssertEqual(probes.map(\.receivedCount), [3, 2, 2], "each probe counts its own events")
        XCTAssertEqual(probes.map(\.lostCount), [0, 0, 0])
    }

    func testDetachingOneLeavesTheOthersAndTheLastFreesTheProgram() throws {
        try requireKernel()
        let b = try EBPFWrapper(cache: nil)
        defer { b.close() }
        let descriptorsBefore = ThisProcess.openFileDescriptors
        let events = Collected<ProbeEvent>()
        let probes = try b.attach([.syscall("getppid"), .syscall("getsid")], filter: ourThread) {
            events.append($0)
        }
        let descriptorsAttached = ThisProcess.openFileDescriptors
        XCTAssertGreaterThan(descriptorsAttached, descriptorsBefore)

        probes[0].detach()
        XCTAssertFalse(probes[0].isAttached)
        XCTAssertTrue(probes[1].isAttached)
        _ = getppid()
        _ = getsid(0)
        XCTAssertTrue(waitUntil { events.count >= 1 })
        XCTAssertTrue(waitForDeliveryOfEverythingWrittenSoFar(b))
        XCTAssertEqual(events.all.map(\.eventName), ["syscalls:sys_enter_getsid"], "only the probe still attached")
        XCTAssertGreaterThan(
            ThisProcess.openFileDescriptors, descriptorsBefore, "the program stays while a probe uses it")

        probes[1].detach()
        probes[1].detach()
        XCTAssertEqual(ThisProcess.openFileDescriptors, descriptorsBefore, "the last detach frees the program")
        _ = getsid(0)
        usleep(50_000)
        XCTAssertEqual(events.count, 1, "nothing after detach")
    }

    /// However many probes are attached together, they open one buffer: three probes hold
    /// exactly two probes' worth of descriptors more than one probe, and no more rings. A
    /// probe's worth is its program, its scratch array with perf buffers (a ring buffer's
    /// records are built in place), and compiled onto its tracepoint, the tracepoint's perf
    /// event (routed ones share the raw tracepoint).
    func testProbesAttachedTogetherShareOneBuffer() throws {
        try requireKernel()
        for (builder, transport, perProbe) in [
            (ProbeBuilder.emitter, EventTransport.perfBuffer, 2), (.emitter, .ringBuffer, 1),
            (.compiler, .automatic, 3),
        ] {
            let b = try EBPFWrapper(cache: nil, probeBuilder: builder)
            defer { b.close() }
            let options = ProbeOptions(transport: transport)
            let before = ThisProcess.openFileDescriptors
            let one = try b.attach([.syscall("getppid")], filter: ourThread, options: options) { _ in }
            let withOne = ThisProcess.openFileDescriptors
            one.forEach { $0.detach() }
            XCTAssertEqual(ThisProcess.openFileDescriptors, before)
            let three = try b.attach(
                [.syscall("getppid"), .syscall("getsid"), .syscall("getpgid")], filter: ourThread, options: options
            ) { _ in }
            XCTAssertEqual(ThisProcess.openFileDescriptors - withOne, 2 * perProbe, "\(builder), \(transport)")
            three.forEach { $0.detach() }
            XCTAssertEqual(ThisProcess.openFileDescriptors, before)
        }
    }

    /// A probe detached while its records still wait in the shared rings never receives them;
    /// the others' records in the same rings still arrive. The records wait for a wake-up the
    /// fourth record triggers (the thread stays on one CPU, so all four are in one ring) and
    /// the timed drain is an hour away.
    func testADetachedProbesWaitingRecordsAreNotDelivered() throws {
        try requireKernel()
        let b = try EBPFWrapper(cache: nil, probeBuilder: .standard, drainInterval: .seconds(3600))
        defer { b.close() }
        let events = Collected<ProbeEvent>()
        let probes = Locked<[Probe]>([])
        let failure = Locked<String?>(nil)
        let done = DispatchSemaphore(value: 0)
        // A thread of its own, pinned, so the test thread's affinity is left alone.
        Thread {
            defer { done.signal() }
            CPUAffinity.pinCallingThread(to: 0)
            let thisThread = ProbeFilter(processID: ThisProcess.pid, threadID: ThisProcess.tid)
            let options = ProbeOptions(perfBuffer: PerfBufferOptions(wakeupEvents: 4), transport: .perfBuffer)
            do {
                let attached = try b.attach(
                    [.syscall("getppid"), .syscall("getsid")], filter: thisThread, options: options,
                    handler: events.append)
                probes.withLock { $0 = attached }
                for _ in 0..<2 { _ = getppid() }
                attached[0].detach()
                for _ in 0..<2 { _ = getsid(0) }
            } catch {
                failure.withLock { $0 = "\(error)" }
            }
        }.start()
        done.wait()
        XCTAssertNil(failure.withLock { $0 })
        // The getppid records come first in the ring, so once both getsid events are in,
        // the pass the wake-up began has passed every record.
        XCTAssertTrue(waitUntil { events.count >= 2 }, "the fourth record wakes the poller")
        XCTAssertEqual(events.all.map(\.eventName), ["syscalls:sys_enter_getsid", "syscalls:sys_enter_getsid"])
        XCTAssertEqual(probes.withLock { $0 }.map(\.receivedCount), [0, 2])
    }

    /// The same through a ring buffer, whose records wait (no wake-up below its watermark,
    /// and the timed drain an hour away) until `close()` drains them: the detached probe's
    /// two are dropped, the other's two delivered.
    func testADetachedProbesWaitingRecordsInTheRingAreNotDelivered() throws {
        try requireKernel()
        let b = try EBPFWrapper(cache: nil, probeBuilder: .emitter, drainInterval: .seconds(3600))
        let events = Collected<ProbeEvent>()
        let probes = try b.attach(
            [.syscall("getppid"), .syscall("getsid")], filter: ourThread, options: ProbeOptions(transport: .ringBuffer),
            handler: events.append)
        for _ in 0..<2 { _ = getppid() }
        probes[0].detach()
        for _ in 0..<2 { _ = getsid(0) }
        XCTAssertEqual(events.count, 0, "nothing drained yet")
        b.close()
        XCTAssertEqual(events.all.map(\.eventName), ["syscalls:sys_enter_getsid", "syscalls:sys_enter_getsid"])
        XCTAssertEqual(probes.map(\.receivedCount), [0, 2])
    }

    /// All or nothing: a target that cannot be attached leaves none of the others attached.
    /// Where kprobes exist the bad target fails at attach (the kernel has no such symbol),
    /// after the first probe was attached; without them it fails before anything is compiled.
    func testAGroupIsAttachedWhollyOrNotAtAll() throws {
        try requireKernel()
        let b = try EBPFWrapper(cache: nil)
        defer { b.close() }
        let descriptorsBefore = ThisProcess.openFileDescriptors
        let compilesBefore = BPFModule.compileCount.load(ordering: .relaxed)
        let events = Collected<ProbeEvent>()
        XCTAssertThrowsError(
            try b.attach([.syscall("getppid"), .kprobe("ebpf_no_such_function")], filter: ourThread) {
                events.append($0)
            }
        ) { error in
            let error = error as! EBPFError
            if KernelFeatures.supportsKprobes {
                // The kernel's ENOENT for a symbol it does not have.
                XCTAssertEqual(error.code, .notFound)
                XCTAssertTrue(error.message.contains("ebpf_no_such_function"), error.message)
                XCTAssertEqual(BPFModule.compileCount.load(ordering: .relaxed) - compilesBefore, 1)
            } else {
                XCTAssertEqual(error.code, .notSupported)
                XCTAssertTrue(error.message.contains("CONFIG_KPROBES"), error.message)
                XCTAssertEqual(BPFModule.compileCount.load(ordering: .relaxed) - compilesBefore, 0)
            }
        }
        XCTAssertTrue(b.session.probes.isEmpty, "nothing half attached")
        XCTAssertEqual(ThisProcess.openFileDescriptors, descriptorsBefore, "the program and buffers are freed")
        _ = getppid()
        usleep(50_000)
        XCTAssertEqual(events.count, 0)
        XCTAssertEqual(try b.attach([], filter: ourThread) { events.append($0) }.count, 0)
    }

    /// Many probes' text: each header included once, every name the members declare suffixed.
    func testCombinedTextDeclaresEachMembersNamesOnce() throws {
        let format = try TracepointFormat(
            category: "syscalls", name: "sys_enter_dup2",
            parsing: """
                name: sys_enter_dup2
                ID: 1
                format:
                \tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
                \tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;
                \tfield:unsigned int oldfd;\toffset:16;\tsize:8;\tsigned:0;
                \tfield:unsigned int newfd;\toffset:24;\tsize:8;\tsigned:0;
                """)
        let programs = try [
            ProbeProgram(
                resolved: .tracepoint(category: "syscalls", name: "sys_enter_dup2"), format: format,
                filter: ProbeFilter(), options: .default, member: 0),
            ProbeProgram(
                resolved: .syscallKprobe(function: "__x64_sys_dup2", wrapped: true), format: format,
                filter: ProbeFilter(), options: .default, member: 1),
            ProbeProgram(
                resolved: .functionKprobe(function: "ksys_dup3", parameters: nil), format: nil, filter: ProbeFilter(),
                options: .default, member: 2),
        ]
        let text = ProbeProgram.combinedText(of: programs)
        XCTAssertEqual(text.components(separatedBy: "#include <uapi/linux/ptrace.h>").count - 1, 1)
        for member in 0..<3 {
            for declaration in [
                "struct ebpf_event_\(member) {", "BPF_PERCPU_ARRAY(ebpf_scratch_\(member),",
                "int ebpf_probe_\(member)(", "u32 ebpf_probe_index = \(member);",
            ] {
                XCTAssertEqual(text.components(separatedBy: declaration).count - 1, 1, declaration)
            }
        }
        // One perf table, declared once, that every member submits to.
        XCTAssertEqual(text.components(separatedBy: "BPF_PERF_OUTPUT(").count - 1, 1)
        XCTAssertTrue(text.contains("BPF_PERF_OUTPUT(ebpf_events);"))
        XCTAssertEqual(text.components(separatedBy: "ebpf_events.perf_submit(ctx, e, sizeof(*e));").count - 1, 3)
        XCTAssertEqual(text.components(separatedBy: "e->probe = ebpf_probe_index;").count - 1, 3)
        XCTAssertFalse(text.contains("struct ebpf_event {"))
        // Each member's own text still stands alone.
        XCTAssertTrue(
            programs[1].text.hasPrefix(
                "#include <uapi/linux/ptrace.h>\nBPF_PERF_OUTPUT(ebpf_events);\nstruct ebpf_event_1 {"))
    }
}
