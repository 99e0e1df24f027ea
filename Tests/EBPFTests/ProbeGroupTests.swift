@testable import EBPF
import Foundation
import XCTest

/// Probes attached together: one program, one compile, each probe's events and buffer its own.
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
        XCTAssertEqual(probes.map(\.program.tableName), ["ebpf_events_0", "ebpf_events_1", "ebpf_events_2"])
        XCTAssertEqual(Set(b.probes.map(ObjectIdentifier.init)), Set(probes.map(ObjectIdentifier.init)))

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
        usleep(50_000)
        let byName = Dictionary(grouping: events.all, by: \.eventName)
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
        let probes = try b.attachAll([.syscall("getppid"), .syscall("getsid")], filter: ourThread) {
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
        usleep(50_000)
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
            try b.attachAll([.syscall("getppid"), .kprobe("ebpf_no_such_function")], filter: ourThread) {
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
        XCTAssertTrue(b.probes.isEmpty, "nothing half attached")
        XCTAssertEqual(ThisProcess.openFileDescriptors, descriptorsBefore, "the program and buffers are freed")
        _ = getppid()
        usleep(50_000)
        XCTAssertEqual(events.count, 0)
        XCTAssertEqual(try b.attachAll([], filter: ourThread) { events.append($0) }.count, 0)
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
                mechanism: .tracepoint(category: "syscalls", name: "sys_enter_dup2"), format: format,
                filter: ProbeFilter(), options: .default, member: 0),
            ProbeProgram(
                mechanism: .syscallKprobe(function: "__x64_sys_dup2", wrapped: true), format: format,
                filter: ProbeFilter(), options: .default, member: 1),
            ProbeProgram(
                mechanism: .functionKprobe(function: "ksys_dup3"), format: nil, filter: ProbeFilter(),
                options: .default, member: 2),
        ]
        let text = ProbeProgram.combinedText(of: programs)
        XCTAssertEqual(text.components(separatedBy: "#include <uapi/linux/ptrace.h>").count - 1, 1)
        for member in 0..<3 {
            for declaration in [
                "struct ebpf_event_\(member) {", "BPF_PERCPU_ARRAY(ebpf_scratch_\(member),",
                "BPF_PERF_OUTPUT(ebpf_events_\(member));", "int ebpf_probe_\(member)(",
            ] {
                XCTAssertEqual(text.components(separatedBy: declaration).count - 1, 1, declaration)
            }
        }
        XCTAssertFalse(text.contains("struct ebpf_event {"))
        XCTAssertFalse(text.contains("ebpf_events."))
        // Each member's own text still stands alone.
        XCTAssertTrue(programs[1].text.hasPrefix("#include <uapi/linux/ptrace.h>\nstruct ebpf_event_1 {"))
    }
}
