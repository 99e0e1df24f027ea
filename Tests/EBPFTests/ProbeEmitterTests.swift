@_spi(Generator) @testable import EBPF
import Foundation
import XCTest
@testable import EBPFKernel

/// Probes built by ``ProbeEmitter`` against the same probes compiled from their C by clang:
/// the same maps, and for every event the same record, field by field.
final class ProbeEmitterTests: XCTestCase {
    /// Every kind of statement the emitter writes, each driven once: scalars truncated
    /// from 8-byte syscall slots (bind's `fd`), a socket address copied with its length
    /// (bind's `umyaddr`), a user string (openat's `filename`), fixed arrays and small
    /// scalars of the record (task_rename's `oldcomm`, `newcomm`, `oom_score_adj`), a
    /// `__data_loc` string (sched_process_exec's `filename`).
    func testEmittedProbesRecordWhatCompiledProbesRecord() throws {
        try requireKernel()
        let emitted = try EBPFWrapper(cache: nil, probeBuilder: .emitter)
        defer { emitted.close() }
        let compiled = try EBPFWrapper(cache: nil, probeBuilder: .compiler)
        defer { compiled.close() }
        let targets: [AttachPoint] = [.syscall("bind"), .syscall("openat"), .tracepoint("task:task_rename")]
        let program = "ebpfemit\(getpid() % 100_000)"
        let link = NSTemporaryDirectory() + program
        try? FileManager.default.removeItem(atPath: link)
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "/bin/true")
        defer { try? FileManager.default.removeItem(atPath: link) }

        let name = ThisProcess.comm
        var streams: [Collected<ProbeEvent>] = []
        for b in [emitted, compiled] {
            let events = Collected<ProbeEvent>()
            let compilesBefore = BPFModule.compileCount.load(ordering: .relaxed)
            try b.attach(targets, filter: ourThread) { events.append($0) }
            try b.attach(.tracepoint("sched:sched_process_exec"), filter: ProbeFilter(processName: program)) {
                events.append($0)
            }
            let compiles = BPFModule.compileCount.load(ordering: .relaxed) - compilesBefore
            XCTAssertEqual(compiles, b === emitted ? 0 : 2, "the emitter compiles nothing")
            streams.append(events)
        }

        // Attaching opens files (format files, and clang its headers) on this thread: only
        // what follows counts.
        let start = KernelClock.now()
        let socket = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        XCTAssertEqual(bound, 0)
        XCTAssertEqual(open("/nonexistent/ebpf-emitter-test", O_RDONLY), -1)
        XCTAssertTrue(renameThisThread("ebpf-emitted"))
        XCTAssertTrue(renameThisThread(name))
        XCTAssertEqual(try runToCompletion(link, []).termination, .exited(0))

        // bind, openat of the path and twice of /proc/thread-self/comm, two renames, the exec.
        for events in streams {
            XCTAssertTrue(waitUntil { events.all.filter { $0.timestamp >= start }.count >= 7 }, "\(events.all)")
        }
        // A pass of each begun after the events: anything beyond the seven has arrived too.
        XCTAssertTrue(waitForDeliveryOfEverythingWrittenSoFar(emitted))
        XCTAssertTrue(waitForDeliveryOfEverythingWrittenSoFar(compiled))
        // Each probe has its own buffer, so only each event's own order is the same in both.
        let (fromEmitter, fromCompiler) = sorted(
            (streams[0].all.filter { $0.timestamp >= start }, streams[1].all.filter { $0.timestamp >= start }))
        XCTAssertEqual(fromEmitter.map(\.eventName), fromCompiler.map(\.eventName))
        for (one, other) in zip(fromEmitter, fromCompiler) {
            XCTAssertEqual(one.fields, other.fields, one.eventName)
            XCTAssertEqual(one.processID, other.processID)
            XCTAssertEqual(one.threadID, other.threadID)
            XCTAssertEqual(one.userID, other.userID)
            XCTAssertEqual(one.groupID, other.groupID)
            XCTAssertEqual(one.cpu, other.cpu)
            XCTAssertEqual(one.processName, other.processName)
            XCTAssertEqual(one.cgroupID, other.cgroupID)
            // Both programs run in the same firing of the tracepoint, one after the other.
            XCTAssertLessThan(max(one.timestamp, other.timestamp) - min(one.timestamp, other.timestamp), 1_000_000_000)
        }
        let byName = Dictionary(grouping: fromEmitter, by: \.eventName)
        XCTAssertEqual(byName["syscalls:sys_enter_bind"]?.count, 1)
        XCTAssertEqual(byName["task:task_rename"]?.count, 2)
        XCTAssertEqual(byName["sched:sched_process_exec"]?.count, 1)
        XCTAssertEqual(
            byName["syscalls:sys_enter_openat"]?.map { $0.filename?.stringValue },
            ["/nonexistent/ebpf-emitter-test", "/proc/thread-self/comm", "/proc/thread-self/comm"])
        XCTAssertEqual(fromEmitter.count, 7)
        let bindEvent = try XCTUnwrap(byName["syscalls:sys_enter_bind"]?.first)
        XCTAssertEqual(bindEvent.fd?.intValue, Int(socket))
        XCTAssertEqual(bindEvent.umyaddr?.description, "127.0.0.1:0")
        let rename = try XCTUnwrap(byName["task:task_rename"]?.first)
        XCTAssertEqual(rename.oldcomm?.stringValue, name)
        XCTAssertEqual(rename.newcomm?.stringValue, "ebpf-emitted")
        XCTAssertEqual(rename.pid?.intValue, Int(ThisProcess.tid))
        let exec = try XCTUnwrap(byName["sched:sched_process_exec"]?.first)
        XCTAssertEqual(exec.filename?.stringValue, link)
        XCTAssertEqual(exec.processName, program)
        let cgroup = try Cgroup.of(processID: getpid())
        XCTAssertEqual(Set(fromEmitter.map(\.cgroupID)), [cgroup.id], "this process's cgroup, its child's too")
    }

    /// Sets the calling thread's name as `prctl(PR_SET_NAME)` does (which fires task_rename).
    private func renameThisThread(_ name: String) -> Bool {
        let fd = open("/proc/thread-self/comm", O_WRONLY)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return write(fd, name, name.utf8.count) == name.utf8.count
    }

    /// Both streams, each sorted by event name, then time.
    private func sorted(_ streams: ([ProbeEvent], [ProbeEvent])) -> ([ProbeEvent], [ProbeEvent]) {
        func order(_ events: [ProbeEvent]) -> [ProbeEvent] {
            events.sorted { ($0.eventName, $0.timestamp) < ($1.eventName, $1.timestamp) }
        }
        return (order(streams.0), order(streams.1))
    }

    /// The emitted object has the maps clang's has: the same names, types, sizes and flags.
    func testEmittedMapsAreTheMapsLibbccCreates() throws {
        try requireKernel()
        let formats = try ["sys_enter_bind", "sys_enter_openat"].map {
            try TracepointFormat.load(category: "syscalls", name: $0)
        }
        let programs = try formats.enumerated().map { index, format in
            try ProbeProgram(
                resolved: .tracepoint(category: format.category, name: format.name), format: format,
                filter: ProbeFilter(), options: .default, member: index)
        }
        let object = try XCTUnwrap(ProbeEmitter.object(for: programs))
        try LibBCC.requireCompiler()
        let module = try LibBCC.Module.compile(
            text: ProbeProgram.combinedText(of: programs), cflags: [])
        let compiled = try XCTUnwrap(LibBCC.withLock { try module.compiledObject() })
        XCTAssertEqual(object.maps.map(\.shape).sorted(), compiled.maps.map(\.shape).sorted())
        XCTAssertEqual(object.functions.map(\.name), compiled.functions.map(\.name))
        XCTAssertEqual(object.license, compiled.license)
    }

    /// What only clang builds is compiled: kprobes (their registers come from architecture
    /// headers) and floating-point fields.
    func testProgramsTheEmitterCannotBuildAreCompiled() throws {
        let kprobe = try ProbeProgram(kernelFunction: "do_sys_openat2")
        XCTAssertNil(kprobe.emission)
        XCTAssertNil(ProbeEmitter.object(for: [kprobe]))
        XCTAssertNil(try ProbeProgram(tracepoint: oneFieldFormat("double ratio")).emission)
        let integer = try oneFieldFormat("long count")
        let program = try ProbeProgram(tracepoint: integer)
        XCTAssertEqual(
            program.emission?.fills,
            [.scalar(at: ProbeRecordHeader.Offset.end, size: 8, value: ProbeProgram.RecordValue(offset: 8, size: 8))])
    }

    /// A tracepoint format with `common_type` and one 8-byte field at offset 8.
    private func oneFieldFormat(_ declaration: String) throws -> TracepointFormat {
        try TracepointFormat(
            category: "test", name: "one",
            parsing: """
                name: one
                ID: 1
                format:
                \tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;

                \tfield:\(declaration);\toffset:8;\tsize:8;\tsigned:1;
                """)
    }

    /// Instruction words as the kernel's `struct bpf_insn` lays them out.
    func testInstructionEncoding() {
        var code = BPFAssembler()
        code.move(.r6, .r1)
        code.load(.r1, size: 4, from: .r6, offset: 8)
        code.exitIfNotEqual32(.r7, 42)
        code.loadMap(.r2, map: 3)
        code.finish()
        XCTAssertEqual(
            code.instructions,
            [
                0x0000_0000_0000_16BF,  // r6 = r1
                0x0000_0000_0008_6161,  // r1 = *(u32 *)(r6 + 8)
                0x0000_002A_0002_0756,  // if w7 != 42 goto +2 (the exit)
                0x0000_0000_0000_1218,  // r2 = map (ld_imm64, src BPF_PSEUDO_MAP_FD)
                0x0000_0000_0000_0000,
                0x0000_0000_0000_00B7,  // r0 = 0
                0x0000_0000_0000_0095,  // exit
            ])
        XCTAssertEqual(code.mapReferences, [CompiledObject.MapReference(instruction: 3, map: 3)])
    }
}
