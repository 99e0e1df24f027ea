@_spi(Generator) @testable import EBPF
import Foundation
import Synchronization
import XCTest

/// A struct with the same layout as `struct bind_event` in ``NativeProgramTests/bindProgram``.
struct BindEvent: BitwiseCopyable {
    var pid: UInt32
    var tid: UInt32
    var fd: UInt64
    var comm: InlineArray<16, UInt8>
}

/// Native programs end to end on the real kernel: compile, load, attach with fnName, perf
/// and ring buffers decoded by name and as Swift structs, detach.
final class NativeProgramTests: XCTestCase {
    /// Records every bind() of this process: pid, tid, fd and comm, from the tracepoint's
    /// own fields (laid out as in /sys/kernel/tracing/events/syscalls/sys_enter_bind/format).
    static let bindProgram = """
        struct sys_enter_bind_args {
            u64 common;
            int syscall_nr;
            u64 fd;
            u64 umyaddr;
            u64 addrlen;
        };
        struct bind_event {
            u32 pid;
            u32 tid;
            u64 fd;
            char comm[16];
        };
        BPF_PERF_OUTPUT(events);
        int on_bind(struct sys_enter_bind_args *args) {
            u64 id = bpf_get_current_pid_tgid();
            if ((id >> 32) != TARGET_PID) return 0;
            struct bind_event event = {};
            event.pid = id >> 32;
            event.tid = (u32)id;
            event.fd = args->fd;
            bpf_get_current_comm(&event.comm, sizeof(event.comm));
            events.perf_submit(args, &event, sizeof(event));
            return 0;
        }
        """

    func makeBindWrapper() throws -> EBPFWrapper<CProgram> {
        try EBPFWrapper(text: Self.bindProgram, cflags: ["-DTARGET_PID=\(ThisProcess.pid)"])
    }

    func testPerfBufferRecordDecodedByName() throws {
        try requireKernel()
        let b = try makeBindWrapper()
        defer { b.close() }
        let records = Collected<EventRecord>()
        let attachment = try b.attachTracepoint(tp: "syscalls:sys_enter_bind", fnName: "on_bind")
        XCTAssertEqual(attachment.point, .tracepoint("syscalls:sys_enter_bind"))
        XCTAssertEqual(attachment.description, "Attachment(tracepoint:syscalls:sys_enter_bind -> on_bind)")
        let buffer = try b.table("events").openPerfBuffer { records.append($0) }

        let fd = bindLoopbackSocket()
        defer { close(fd) }
        XCTAssertTrue(waitUntil { records.count >= 1 }, "no record for our bind()")
        let record = try XCTUnwrap(records.all.first)
        XCTAssertEqual(record.pid?.intValue, Int(ThisProcess.pid))
        XCTAssertEqual(record.tid?.intValue, Int(ThisProcess.tid))
        XCTAssertEqual(record.fd?.intValue, Int(fd))
        XCTAssertEqual(record.comm?.stringValue, ThisProcess.comm)
        XCTAssertEqual(record.fieldNames, ["pid", "tid", "fd", "comm"])
        XCTAssertEqual(records.count, 1, "exactly one bind() was made")
        XCTAssertEqual(buffer.receivedCount, 1)
        XCTAssertEqual(buffer.lostCount, 0)
    }

    func testPerfBufferRecordDecodedAsSwiftStruct() throws {
        try requireKernel()
        let b = try makeBindWrapper()
        defer { b.close() }
        let events = Collected<BindEvent>()
        try b.attachTracepoint(tp: "syscalls:sys_enter_bind", fnName: "on_bind")
        try b.table("events").openPerfBuffer(as: BindEvent.self) { events.append($0) }

        let fds = CPUAffinity.onOneCPU { (0..<3).map { _ in bindLoopbackSocket() } }
        defer { fds.forEach { close($0) } }
        XCTAssertTrue(waitUntil { events.count >= 3 })
        XCTAssertTrue(waitForDeliveryOfEverythingWrittenSoFar(b))
        XCTAssertEqual(events.all.map { Int32($0.fd) }, fds, "one event per bind(), in order, with its fd")
        for event in events.all {
            XCTAssertEqual(event.pid, UInt32(ThisProcess.pid))
            XCTAssertEqual(event.tid, UInt32(ThisProcess.tid))
            XCTAssertEqual(cString(event.comm), ThisProcess.comm)
        }
    }

    func testTypedBufferAcceptsAStructWhoseTailPaddingSwiftOmits() throws {
        try requireKernel()
        // C: { u64 a; u32 b; } is 16 bytes (4 of tail padding); Swift's size is 12, stride 16.
        struct Padded: BitwiseCopyable {
            var a: UInt64
            var b: UInt32
        }
        XCTAssertEqual(MemoryLayout<Padded>.size, 12)
        let b = try EBPFWrapper(
            text: """
                struct padded { u64 a; u32 b; };
                BPF_PERF_OUTPUT(events);
                TRACEPOINT_PROBE(syscalls, sys_enter_getppid) {
                    if ((bpf_get_current_pid_tgid() >> 32) != TARGET_PID) return 0;
                    struct padded p = { .a = 0x1122334455667788, .b = 99 };
                    events.perf_submit(args, &p, sizeof(p));
                    return 0;
                }
                """, cflags: ["-DTARGET_PID=\(ThisProcess.pid)"])
        defer { b.close() }
        let values = Collected<Padded>()
        try b.table("events").openPerfBuffer(as: Padded.self) { values.append($0) }
        try b.attachTracepoint(tp: "syscalls:sys_enter_getppid", fnName: "tracepoint__syscalls__sys_enter_getppid")
        _ = getppid()
        XCTAssertTrue(waitUntil { values.count == 1 })
        XCTAssertEqual(values.all.first?.a, 0x1122334455667788)
        XCTAssertEqual(values.all.first?.b, 99)
    }

    func testTypedBufferRejectsAStructOfTheWrongSize() throws {
        try requireKernel()
        let b = try makeBindWrapper()
        defer { b.close() }
        XCTAssertThrowsError(try b.table("events").openPerfBuffer(as: UInt64.self) { _ in }) { error in
            let error = error as! EBPFError
            XCTAssertEqual(error.code, .decodingFailed)
            XCTAssertTrue(error.message.contains("8 bytes"), error.message)
            XCTAssertTrue(error.message.contains("32 bytes"), error.message)
        }
    }

    func testDetachStopsEvents() throws {
        try requireKernel()
        let b = try makeBindWrapper()
        defer { b.close() }
        let records = Collected<EventRecord>()
        let attachment = try b.attachTracepoint(tp: "syscalls:sys_enter_bind", fnName: "on_bind")
        try b.table("events").openPerfBuffer { records.append($0) }
        close(bindLoopbackSocket())
        XCTAssertTrue(waitUntil { records.count == 1 })

        attachment.detach()
        XCTAssertFalse(attachment.isAttached)
        XCTAssertTrue(b.session.attachments.isEmpty)
        for _ in 0..<3 { close(bindLoopbackSocket()) }
        usleep(100_000)
        XCTAssertEqual(records.count, 1, "no record after detach")

        // Attaching again delivers again: the detach removed only that attachment.
        try b.attachTracepoint(tp: "syscalls:sys_enter_bind", fnName: "on_bind")
        close(bindLoopbackSocket())
        XCTAssertTrue(waitUntil { records.count == 2 })
    }

    func testCloseDetachesEverythingAndLeaksNoDescriptor() throws {
        try requireKernel()
        let before = ThisProcess.openFileDescriptors
        for _ in 0..<3 {
            let b = try makeBindWrapper()
            let records = Collected<EventRecord>()
            let attachment = try b.attachTracepoint(tp: "syscalls:sys_enter_bind", fnName: "on_bind")
            let buffer = try b.table("events").openPerfBuffer { records.append($0) }
            close(bindLoopbackSocket())
            XCTAssertTrue(waitUntil { records.count == 1 })
            b.close()
            XCTAssertFalse(attachment.isAttached)
            XCTAssertTrue(b.isClosed)
            close(bindLoopbackSocket())
            usleep(50_000)
            XCTAssertEqual(buffer.receivedCount, 1)
        }
        XCTAssertEqual(ThisProcess.openFileDescriptors, before, "close() must release every fd")
    }

    /// `close()` frees the program, its maps, rings, probes and the trace pipe at once, while
    /// every handle the caller took is still referenced; the handles then throw `.closed`.
    func testCloseFreesEveryDescriptorWhileViewsAreStillReferenced() throws {
        try requireKernel()
        let before = ThisProcess.openFileDescriptors
        let b = try EBPFWrapper(
            text: """
                BPF_HASH(counts, u32, u64);
                BPF_PERCPU_ARRAY(hits, u64, 1);
                BPF_PERF_OUTPUT(events);
                BPF_RINGBUF_OUTPUT(ring, 8);
                TRACEPOINT_PROBE(syscalls, sys_enter_getppid) {
                    u32 pid = bpf_get_current_pid_tgid() >> 32;
                    if (pid != TARGET_PID) return 0;
                    counts.increment(pid);
                    int zero = 0;
                    hits.increment(zero);
                    events.perf_submit(args, &pid, sizeof(pid));
                    ring.ringbuf_output(&pid, sizeof(pid), 0);
                    return 0;
                }
                """, cflags: ["-DTARGET_PID=\(ThisProcess.pid)"])
        try b.attachTracepoint(tp: "syscalls:sys_enter_getppid", fnName: "tracepoint__syscalls__sys_enter_getppid")
        let perfRecords = Collected<UInt32>()
        let ringRecords = Collected<UInt32>()
        let perf = try b.table("events").openPerfBuffer(as: UInt32.self) { perfRecords.append($0) }
        let ring = try b.table("ring").openRingBuffer(as: UInt32.self) { ringRecords.append($0) }
        let probeEvents = Collected<Int32>()
        let probe = try b.attach(.syscall("getppid"), filter: ProbeFilter(processID: ThisProcess.pid)) {
            probeEvents.append($0.processID)
        }
        let untyped = try b.table("counts")
        let typed = try b.table("counts", key: UInt32.self, value: UInt64.self)
        let perCPU = try b.perCPUTable("hits", key: UInt32.self, value: UInt64.self)
        XCTAssertNil(try b.traceFields(timeout: .milliseconds(1)), "opens the trace pipe; nothing printed")

        _ = getppid()
        XCTAssertTrue(waitUntil { perfRecords.count == 1 && ringRecords.count == 1 && probeEvents.count == 1 })
        XCTAssertEqual(try typed[UInt32(ThisProcess.pid)], 1)
        XCTAssertEqual(try perCPU.sum(forKey: 0), 1)
        XCTAssertGreaterThan(ThisProcess.openFileDescriptors, before + 4, "maps, rings, programs, poller, pipe")

        b.close()
        XCTAssertEqual(ThisProcess.openFileDescriptors, before, "close() must free every descriptor at once")

        withExtendedLifetime((perf, ring, probe)) {
            XCTAssertFalse(perf.isOpen)
            XCTAssertFalse(ring.isOpen)
            XCTAssertFalse(probe.isAttached)
        }
        func assertClosed<T>(_ call: @autoclosure () throws -> T, _ what: String) {
            XCTAssertThrowsError(try call(), what) { error in
                XCTAssertEqual((error as? EBPFError)?.code, .closed, "\(what): \(error)")
            }
        }
        assertClosed(try untyped.items(), "Table.items()")
        assertClosed(try untyped.lookup(UInt32(1)), "Table.lookup")
        assertClosed(try typed[UInt32(ThisProcess.pid)], "TypedTable subscript")
        assertClosed(try typed.updateValue(1, forKey: 1), "TypedTable.updateValue")
        assertClosed(try typed.removeAll(), "TypedTable.removeAll")
        assertClosed(try perCPU.snapshot(), "PerCPUTable.snapshot")
        assertClosed(try b.table("counts"), "a new view")
        assertClosed(try b.loadFunction("tracepoint__syscalls__sys_enter_getppid", type: .tracepoint), "loadFunction")
        assertClosed(try b.traceFields(timeout: .milliseconds(1)), "traceFields")
        XCTAssertEqual(ThisProcess.openFileDescriptors, before, "reading after close() reopens nothing")
        _ = getppid()
        usleep(50_000)
        XCTAssertEqual(perfRecords.count, 1, "nothing delivered after close()")
        XCTAssertEqual(ringRecords.count, 1)
        XCTAssertEqual(probeEvents.count, 1)
    }

    func testRecordsAsAnAsyncSequenceFromPerfAndRingBuffers() async throws {
        try requireKernel()
        let b = try makeBindWrapper()
        defer { b.close() }
        try b.attachTracepoint(tp: "syscalls:sys_enter_bind", fnName: "on_bind")
        let records = try b.table("events").records()
        // A missing record must fail the test, not hang it: the buffer closes after a while.
        let watchdog = Task { [buffer = records.buffer] in
            try await Task.sleep(for: eventTimeout)
            buffer.close()
        }
        defer { watchdog.cancel() }
        let fd = bindLoopbackSocket()
        defer { close(fd) }
        var received: EventRecord?
        for await record in records {
            received = record
            break
        }
        XCTAssertEqual(received?.fd?.intValue, Int(fd))
        XCTAssertEqual(received?.pid?.intValue, Int(ThisProcess.pid))
        XCTAssertTrue(waitUntil { !records.buffer.isOpen }, "leaving the loop closes the buffer")

        let ring = try EBPFWrapper(text: Self.ringProgram, cflags: ["-DTARGET_PID=\(ThisProcess.pid)"])
        try ring.attachTracepoint(tp: "syscalls:sys_enter_getppid", fnName: "tracepoint__syscalls__sys_enter_getppid")
        let calls = try ring.table("calls").records()
        XCTAssertEqual(calls.buffer.tableType, .ringBuffer)
        for _ in 0..<3 { _ = getppid() }
        let closer = Task {
            try await Task.sleep(for: .milliseconds(300))
            ring.close()
        }
        var sequences: [Int] = []
        for await call in calls {
            sequences.append(call.sequence?.intValue ?? -1)
        }
        _ = try await closer.value
        XCTAssertEqual(sequences, [0, 1, 2], "the loop ends when the wrapper closes, after every record")
        XCTAssertEqual(calls.droppedCount, 0)

        XCTAssertThrowsError(try makeBindWrapper().table("no_such_table").records()) { error in
            XCTAssertEqual((error as? EBPFError)?.code, .tableNotFound)
        }
    }

    /// A loaded function's handle owns a descriptor of its own, which its close() frees,
    /// and which the wrapper's close() frees as it frees everything else the wrapper made.
    func testLoadedFunctionOwnsItsDescriptor() throws {
        try requireKernel()
        let before = ThisProcess.openFileDescriptors
        let b = try makeBindWrapper()
        let loaded = try b.loadFunction("on_bind", type: .tracepoint)
        XCTAssertEqual(loaded.description, "LoadedFunction(on_bind, tracepoint)")
        let info = try loaded.withFileDescriptor { fd in
            try String(contentsOfFile: "/proc/self/fdinfo/\(fd)", encoding: .utf8)
        }
        XCTAssertTrue(info.contains("prog_type:\t\(ProgramType.tracepoint.rawValue)\n"), info)
        // Closed from inside a call: the descriptor stays open until the call returns.
        let stillOpen = try loaded.withFileDescriptor { fd in
            loaded.close()
            return (loaded.isOpen, fcntl(fd, F_GETFD) != -1)
        }
        XCTAssertFalse(stillOpen.0, "closed for new calls")
        XCTAssertTrue(stillOpen.1, "open for the running call")
        XCTAssertEqual(loaded.description, "LoadedFunction(on_bind, tracepoint, closed)")
        XCTAssertThrowsError(try loaded.withFileDescriptor { $0 }) { error in
            XCTAssertEqual((error as? EBPFError)?.code, .closed)
        }

        let again = try b.loadFunction("on_bind", type: .tracepoint)
        XCTAssertTrue(again.isOpen, "a new handle for the same load")
        b.close()
        XCTAssertFalse(again.isOpen, "the wrapper's close() closes it")
        XCTAssertEqual(ThisProcess.openFileDescriptors, before, "nothing left open")
    }

    /// Leaving a `for await` loop drops its iterator and stream on the cooperative pool; what
    /// that ends (here a buffer) must not wait there for the polling thread. The thread is
    /// held inside another buffer's callback, so an end that waited for it could not return
    /// until the test lets the callback go.
    func testLeavingTheLoopDoesNotWaitForThePollingThread() async throws {
        try requireKernel()
        let b = try EBPFWrapper(
            text: """
                struct hit { u32 pid; };
                BPF_PERF_OUTPUT(streamed);
                BPF_PERF_OUTPUT(blocking);
                TRACEPOINT_PROBE(syscalls, sys_enter_getppid) {
                    struct hit h = {.pid = bpf_get_current_pid_tgid() >> 32};
                    if (h.pid == TARGET_PID) streamed.perf_submit(args, &h, sizeof(h));
                    return 0;
                }
                TRACEPOINT_PROBE(syscalls, sys_enter_getpgid) {
                    struct hit h = {.pid = bpf_get_current_pid_tgid() >> 32};
                    if (h.pid == TARGET_PID) blocking.perf_submit(args, &h, sizeof(h));
                    return 0;
                }
                """, cflags: ["-DTARGET_PID=\(ThisProcess.pid)"])
        let entered = Atomic<Bool>(false)
        let gate = DispatchSemaphore(value: 0)
        defer {
            gate.signal()
            b.close()
        }
        try b.attachTracepoint(tp: "syscalls:sys_enter_getppid", fnName: "tracepoint__syscalls__sys_enter_getppid")
        try b.attachTracepoint(tp: "syscalls:sys_enter_getpgid", fnName: "tracepoint__syscalls__sys_enter_getpgid")
        try b.table("blocking").openPerfBuffer { _ in
            entered.store(true, ordering: .releasing)
            gate.wait()
        }
        let descriptorsBefore = ThisProcess.openFileDescriptors
        let opened = Atomic<Bool>(false)
        let loopLeft = Atomic<Bool>(false)
        let consumer = Task {
            let records = { () throws -> EventRecords in
                defer { opened.store(true, ordering: .releasing) }
                return try b.table("streamed").records()
            }
            // The stream lives only in the loop, as in `for await r in try b.table(…).records()`:
            // leaving it drops the iterator and the stream together.
            for await record in try records() {
                XCTAssertEqual(record.pid?.intValue, Int(ThisProcess.pid))
                // Hold the polling thread in the other buffer's callback, then leave.
                _ = getpgid(0)
                while !entered.load(ordering: .acquiring) { await Task.yield() }
                break
            }
            loopLeft.store(true, ordering: .releasing)
        }
        XCTAssertTrue(waitUntil { opened.load(ordering: .acquiring) })
        _ = getppid()
        let left = waitUntil(timeout: .seconds(30)) { loopLeft.load(ordering: .acquiring) }
        XCTAssertTrue(left, "the task that left the loop is still waiting for the polling thread")
        gate.signal()
        // A failure must not hang the test: closing the wrapper ends the loop.
        if !left { b.close() }
        try await consumer.value
        XCTAssertTrue(
            waitUntil { ThisProcess.openFileDescriptors == descriptorsBefore }, "leaving the loop closes the buffer")
    }

    func testClosingABufferStopsDeliveryAndFreesTheTable() throws {
        try requireKernel()
        let b = try makeBindWrapper()
        defer { b.close() }
        try b.attachTracepoint(tp: "syscalls:sys_enter_bind", fnName: "on_bind")
        let first = Collected<EventRecord>()
        let buffer = try b.table("events").openPerfBuffer { first.append($0) }
        XCTAssertThrowsError(try b.table("events").openPerfBuffer { _ in }) { error in
            let error = error as! EBPFError
            XCTAssertEqual(error.code, .invalidArgument)
            XCTAssertTrue(error.message.contains("already has an open buffer"), error.message)
        }
        close(bindLoopbackSocket())
        XCTAssertTrue(waitUntil { first.count == 1 })

        buffer.close()
        XCTAssertFalse(buffer.isOpen)
        close(bindLoopbackSocket())
        usleep(50_000)
        XCTAssertEqual(first.count, 1, "no record after the buffer is closed")

        // The table can be opened again, and the new buffer gets the next record.
        let second = Collected<EventRecord>()
        try b.table("events").openPerfBuffer { second.append($0) }
        let fd = bindLoopbackSocket()
        defer { close(fd) }
        XCTAssertTrue(waitUntil { second.count == 1 })
        XCTAssertEqual(second.all.first?.fd?.intValue, Int(fd))
    }

    func testDeinitDetaches() throws {
        try requireKernel()
        let before = ThisProcess.openFileDescriptors
        let records = Collected<EventRecord>()
        do {
            let b = try makeBindWrapper()
            try b.attachTracepoint(tp: "syscalls:sys_enter_bind", fnName: "on_bind")
            try b.table("events").openPerfBuffer { records.append($0) }
        }
        close(bindLoopbackSocket())
        usleep(50_000)
        XCTAssertEqual(records.count, 0)
        XCTAssertEqual(ThisProcess.openFileDescriptors, before)
    }

    func testCloseFromInsideACallbackDoesNotDeadlock() throws {
        try requireKernel()
        let b = try makeBindWrapper()
        let closedInCallback = Collected<Bool>()
        try b.attachTracepoint(tp: "syscalls:sys_enter_bind", fnName: "on_bind")
        try b.table("events").openPerfBuffer { _ in
            b.close()
            closedInCallback.append(b.isClosed)
        }
        close(bindLoopbackSocket())
        XCTAssertTrue(waitUntil { closedInCallback.count == 1 })
        XCTAssertEqual(closedInCallback.all, [true])
        XCTAssertTrue(b.session.attachments.isEmpty)
        b.close()
    }

    func testUseAfterCloseThrows() throws {
        try requireKernel()
        let b = try makeBindWrapper()
        b.close()
        XCTAssertThrowsError(try b.attachTracepoint(tp: "syscalls:sys_enter_bind", fnName: "on_bind")) { error in
            XCTAssertEqual((error as! EBPFError).code, .closed)
        }
        XCTAssertThrowsError(try b.table("events").openPerfBuffer { _ in }) { error in
            XCTAssertEqual((error as! EBPFError).code, .closed)
        }
    }

    /// Numbers every getppid() of this process in the kernel and submits it to a ring buffer.
    static let ringProgram = """
        struct call { u32 pid; u32 tid; u64 sequence; char comm[16]; };
        BPF_RINGBUF_OUTPUT(calls, 8);
        BPF_ARRAY(counter, u64, 1);
        TRACEPOINT_PROBE(syscalls, sys_enter_getppid) {
            u64 id = bpf_get_current_pid_tgid();
            if ((id >> 32) != TARGET_PID) return 0;
            int zero = 0;
            u64 *count = counter.lookup(&zero);
            if (!count) return 0;
            struct call c = {};
            c.pid = id >> 32;
            c.tid = (u32)id;
            // Not the value __sync_fetch_and_add returns: LLVM before 12 (libbcc 0.18's 11)
            // aborts the process on it. The test's calls come from one thread.
            c.sequence = *count;
            __sync_fetch_and_add(count, 1);
            bpf_get_current_comm(&c.comm, sizeof(c.comm));
            calls.ringbuf_output(&c, sizeof(c), 0);
            return 0;
        }
        """

    func makeRingWrapper() throws -> EBPFWrapper<CProgram> {
        let b = try EBPFWrapper(text: Self.ringProgram, cflags: ["-DTARGET_PID=\(ThisProcess.pid)"])
        // bcc Python attaches TRACEPOINT_PROBE functions by their generated name on its own;
        // here the name is passed explicitly.
        try b.attachTracepoint(tp: "syscalls:sys_enter_getppid", fnName: "tracepoint__syscalls__sys_enter_getppid")
        return b
    }

    func testRingBufferDecodedByName() throws {
        try requireKernel()
        let b = try makeRingWrapper()
        defer { b.close() }
        let records = Collected<EventRecord>()
        let buffer = try b.table("calls").openRingBuffer { records.append($0) }
        XCTAssertEqual(buffer.tableType, .ringBuffer)
        for _ in 0..<5 { _ = getppid() }
        XCTAssertTrue(waitUntil { records.count >= 5 })
        usleep(50_000)
        XCTAssertEqual(records.all.compactMap { $0.sequence?.intValue }, [0, 1, 2, 3, 4])
        XCTAssertEqual(Set(records.all.compactMap { $0.pid?.intValue }), [Int(ThisProcess.pid)])
        XCTAssertEqual(Set(records.all.compactMap { $0.tid?.intValue }), [Int(ThisProcess.tid)])
        XCTAssertEqual(records.all.first?.comm?.stringValue, ThisProcess.comm)
        XCTAssertEqual(buffer.receivedCount, 5)
        XCTAssertThrowsError(try b.table("calls").openPerfBuffer { _ in }) { error in
            let error = error as! EBPFError
            XCTAssertEqual(error.code, .invalidArgument)
            XCTAssertTrue(error.message.contains("ring buffer"), error.message)
        }
    }

    func testRingBufferDecodedAsSwiftStruct() throws {
        try requireKernel()
        struct Call: BitwiseCopyable {
            var pid: UInt32
            var tid: UInt32
            var sequence: UInt64
            var comm: InlineArray<16, UInt8>
        }
        let b = try makeRingWrapper()
        defer { b.close() }
        let calls = Collected<Call>()
        try b.table("calls").openRingBuffer(as: Call.self) { calls.append($0) }
        for _ in 0..<4 { _ = getppid() }
        XCTAssertTrue(waitUntil { calls.count >= 4 })
        usleep(50_000)
        XCTAssertEqual(calls.all.map(\.sequence), [0, 1, 2, 3])
        XCTAssertEqual(Set(calls.all.map(\.pid)), [UInt32(ThisProcess.pid)])
        XCTAssertEqual(Set(calls.all.map(\.tid)), [UInt32(ThisProcess.tid)])
        XCTAssertEqual(calls.all.first.map { cString($0.comm) }, ThisProcess.comm)
    }
}

/// The text of a NUL-terminated `char[16]` received in a Swift struct.
func cString(_ bytes: InlineArray<16, UInt8>) -> String {
    var text: [UInt8] = []
    for index in bytes.indices {
        if bytes[index] == 0 { break }
        text.append(bytes[index])
    }
    return String(decoding: text, as: UTF8.self)
}
