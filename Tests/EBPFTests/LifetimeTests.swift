import Glibc
import XCTest

@_spi(Generator) @testable import EBPF

/// The one lifetime rule (``EBPFWrapper``'s documentation), kind by kind: a handle ends when
/// asked; dropping it ends nothing, except an async sequence, which ends its probe or buffer
/// as its loop ends; the wrapper's `close()` ends every handle it made, which then reports
/// itself ended and throws `.closed`; dropping the wrapper closes it.
final class LifetimeTests: XCTestCase {
    static let program = """
        BPF_HASH(calls, u32, u64);
        BPF_PERF_OUTPUT(perf_hits);
        BPF_RINGBUF_OUTPUT(ring_hits, 8);
        struct hit { u32 pid; };
        TRACEPOINT_PROBE(syscalls, sys_enter_getppid) {
            struct hit h = { .pid = bpf_get_current_pid_tgid() >> 32 };
            if (h.pid != TARGET_PID) return 0;
            u32 zero = 0;
            calls.increment(zero);
            perf_hits.perf_submit(args, &h, sizeof(h));
            ring_hits.ringbuf_output(&h, sizeof(h), 0);
            return 0;
        }
        """
    static let function = "tracepoint__syscalls__sys_enter_getppid"
    static let tracepoint = "syscalls:sys_enter_getppid"
    let ours = ProbeFilter(processID: ThisProcess.pid)

    func makeProgram() throws -> EBPFWrapper<CProgram> {
        try EBPFWrapper(text: Self.program, cflags: ["-DTARGET_PID=\(ThisProcess.pid)"])
    }

    func calls(_ b: EBPFWrapper<CProgram>) throws -> UInt64 {
        try b.table("calls", key: UInt32.self, value: UInt64.self)[0] ?? 0
    }

    /// Checks the rule for a handle the wrapper keeps: made by `make` and dropped, it still
    /// works (`isLive`); ended by `end`, it is not; made again, the wrapper's `close()` ends
    /// it; made in a wrapper that is then dropped, it ends with it.
    func checkKeptHandle<Program, Handle: AnyObject>(
        _ makeWrapper: () throws -> EBPFWrapper<Program>, make: (EBPFWrapper<Program>) throws -> Handle,
        isLive: (Handle) throws -> Bool, end: (Handle) -> Void, line: UInt = #line
    ) throws {
        let b = try makeWrapper()
        weak var dropped: Handle?
        dropped = try make(b)
        let kept = try XCTUnwrap(dropped, "the wrapper keeps a handle its caller dropped", line: line)
        XCTAssertTrue(try isLive(kept), "dropping the handle ended nothing", line: line)
        end(kept)
        XCTAssertFalse(try isLive(kept), "ended when asked", line: line)
        let second = try make(b)
        XCTAssertTrue(try isLive(second), line: line)
        b.close()
        XCTAssertFalse(try isLive(second), "the wrapper's close() ends it", line: line)

        let orphan = try { () throws -> Handle in
            let temporary = try makeWrapper()
            return try make(temporary)
        }()
        XCTAssertFalse(try isLive(orphan), "dropping the wrapper closes it", line: line)
    }

    func testAttachment() throws {
        try requireKernel()
        var counted: [UInt64] = []
        try checkKeptHandle(
            makeProgram, make: { try $0.attachTracepoint(tp: Self.tracepoint, fnName: Self.function) },
            isLive: { $0.isAttached }, end: { $0.detach() })
        // What the program counted while attached, read through a wrapper of its own.
        let b = try makeProgram()
        defer { b.close() }
        let attachment = try b.attachTracepoint(tp: Self.tracepoint, fnName: Self.function)
        _ = getppid()
        counted.append(try calls(b))
        attachment.detach()
        _ = getppid()
        counted.append(try calls(b))
        XCTAssertEqual(counted, [1, 1], "one call counted while attached, none after detach()")
    }

    func testLoadedFunction() throws {
        try requireKernel()
        try checkKeptHandle(
            makeProgram, make: { try $0.loadFunction(Self.function, type: .tracepoint) },
            isLive: { function in
                do {
                    return try function.withFileDescriptor { fcntl($0, F_GETFD) != -1 }
                } catch let error as EBPFError where error.code == .closed {
                    return false
                }
            }, end: { $0.close() })
    }

    func testProbe() throws {
        try requireKernel()
        let events = Collected<Int32>()
        try checkKeptHandle(
            { try EBPFWrapper(cache: nil) },
            make: { try $0.attach(.syscall("getppid"), filter: ours) { events.append($0.processID) } },
            isLive: { probe in
                let before = events.count
                _ = getppid()
                return probe.isAttached && waitUntil { events.count == before + 1 }
            }, end: { $0.detach() })
        XCTAssertEqual(Set(events.all), [ThisProcess.pid])
    }

    func testAggregation() throws {
        try requireKernel()
        try checkKeptHandle(
            { try EBPFWrapper(cache: nil) }, make: { try $0.aggregate(.syscall("getppid"), filter: ours) },
            isLive: { aggregation in
                do {
                    let before = try aggregation.snapshot().first?.count ?? 0
                    _ = getppid()
                    let after = try aggregation.snapshot().first?.count
                    return aggregation.isAttached && after == before + 1
                } catch let error as EBPFError where error.code == .closed {
                    XCTAssertTrue(aggregation.isClosed)
                    return false
                }
            }, end: { $0.close() })
    }

    func testPerfAndRingBuffers() throws {
        try requireKernel()
        for table in ["perf_hits", "ring_hits"] {
            let records = Collected<UInt32>()
            var attachments: [Attachment] = []
            try checkKeptHandle(
                makeProgram,
                make: { b in
                    // Once per wrapper: the kernel attaches a program to a tracepoint once.
                    if b.session.attachments.isEmpty {
                        attachments.append(try b.attachTracepoint(tp: Self.tracepoint, fnName: Self.function))
                    }
                    let buffer = try b.table(table)
                    return table == "perf_hits"
                        ? try buffer.openPerfBuffer(as: UInt32.self) { records.append($0) }
                        : try buffer.openRingBuffer(as: UInt32.self) { records.append($0) }
                },
                isLive: { buffer in
                    // A ring keeps what was written while no reader had it open: at least one.
                    let before = records.count
                    _ = getppid()
                    return buffer.isOpen && waitUntil { records.count > before }
                }, end: { $0.close() })
            XCTAssertEqual(Set(records.all), [UInt32(ThisProcess.pid)], table)
            XCTAssertEqual(attachments.map(\.isAttached), [false, false], "ended with their wrappers")
        }
    }

    /// A handler that keeps its table keeps everything the wrapper owns (the table reports
    /// `.closed` through it): only the wrapper's own end closes it when the wrapper is dropped.
    func testDroppingTheWrapperEndsWhatItsHandlersKeep() throws {
        try requireKernel()
        let records = Collected<UInt32>()
        let buffer = try { () throws -> EventBuffer in
            let b = try makeProgram()
            try b.attachTracepoint(tp: Self.tracepoint, fnName: Self.function)
            let table = try b.table("perf_hits")
            return try table.openPerfBuffer(as: UInt32.self) { pid in
                if table.name == "perf_hits" { records.append(pid) }
            }
        }()
        XCTAssertFalse(buffer.isOpen, "closed with the dropped wrapper")
        _ = getppid()
        XCTAssertEqual(records.count, 0)
    }

    /// Views are not kept: they read the program's maps until the wrapper closes, then throw.
    func testTableViews() throws {
        try requireKernel()
        let b = try makeProgram()
        try b.attachTracepoint(tp: Self.tracepoint, fnName: Self.function)
        let table = try b.table("calls")
        let typed = try b.table("calls", key: UInt32.self, value: UInt64.self)
        _ = getppid()
        XCTAssertEqual(try table.values().map(\.intValue), [1])
        XCTAssertEqual(try typed[0], 1)
        b.close()
        for (name, read) in [("Table", { _ = try table.values() }), ("TypedTable", { _ = try typed[0] })] {
            XCTAssertThrowsError(try read(), name) { XCTAssertEqual(($0 as? EBPFError)?.code, .closed, name) }
        }

        let orphan = try { () throws -> TypedTable<UInt32, UInt64> in
            try makeProgram().table("calls", key: UInt32.self, value: UInt64.self)
        }()
        XCTAssertThrowsError(try orphan[0], "dropping the wrapper closes it") {
            XCTAssertEqual(($0 as? EBPFError)?.code, .closed)
        }
    }

    /// An async sequence's probe or buffer ends when the sequence is dropped without being
    /// iterated, and its loop ends when the wrapper closes.
    func testAsyncSequences() async throws {
        try requireKernel()
        let b = try EBPFWrapper(cache: nil)
        do { _ = try b.events(.syscall("getppid"), filter: ours) }
        XCTAssertTrue(waitUntil { b.session.probes.isEmpty }, "dropping the sequence detaches its probe")

        let native = try makeProgram()
        do { _ = try native.table("perf_hits").records() }
        XCTAssertTrue(waitUntil { native.session.openBufferCount == 0 }, "dropping the sequence closes its buffer")

        let events = try b.events(.syscall("getppid"), filter: ours)
        let records = try native.table("ring_hits").records()
        try native.attachTracepoint(tp: Self.tracepoint, fnName: Self.function)
        _ = getppid()
        b.close()
        native.close()
        var eventPIDs: [Int32] = []
        for await event in events { eventPIDs.append(event.processID) }
        var recordCount = 0
        for await _ in records { recordCount += 1 }
        XCTAssertEqual(eventPIDs, [ThisProcess.pid], "delivered, then ended by close()")
        XCTAssertEqual(recordCount, 1, "delivered, then ended by close()")
    }
}
