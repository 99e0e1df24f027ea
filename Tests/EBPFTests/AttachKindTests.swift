@_spi(Generator) @testable import EBPF
import Foundation
import XCTest

/// Each attach kind on the real kernel, with events the test itself causes.
final class AttachKindTests: XCTestCase {
    func testRawTracepointCountsExactlyOurSyscalls() throws {
        try requireKernel()
        let b = try EBPFWrapper(
            text: """
                #include <asm/unistd_64.h>
                struct hit { u32 tid; u64 nr; };
                BPF_PERF_OUTPUT(hits);
                int on_sys_enter(struct bpf_raw_tracepoint_args *ctx) {
                    u64 id = bpf_get_current_pid_tgid();
                    if ((u32)id != TARGET_TID || ctx->args[1] != __NR_getppid) return 0;
                    struct hit h = { .tid = (u32)id, .nr = ctx->args[1] };
                    hits.perf_submit(ctx, &h, sizeof(h));
                    return 0;
                }
                """, cflags: ["-DTARGET_TID=\(ThisProcess.tid)"])
        defer { b.close() }
        let hits = Collected<EventRecord>()
        let attachment = try b.attach(function: "on_sys_enter", to: .rawTracepoint("sys_enter"))
        XCTAssertEqual(attachment.point, .rawTracepoint("sys_enter"))
        try b.table("hits").openPerfBuffer { hits.append($0) }
        for _ in 0..<7 { _ = getppid() }
        XCTAssertTrue(waitUntil { hits.count >= 7 })
        XCTAssertTrue(waitForDeliveryOfEverythingWrittenSoFar(b))
        XCTAssertEqual(hits.count, 7)
        XCTAssertEqual(Set(hits.all.compactMap { $0.nr?.intValue }), [110], "__NR_getppid on x86-64")
        attachment.detach()
        _ = getppid()
        XCTAssertTrue(waitForDeliveryOfEverythingWrittenSoFar(b))
        XCTAssertEqual(hits.count, 7, "nothing after detach")
    }

    /// A native function attached at a syscall's entry and return by `AttachPoint`, as text
    /// and as a value: the syscall's tracepoints, with their records' fields.
    func testNativeFunctionsAtASyscallsEntryAndReturn() throws {
        try requireKernel()
        let b = try EBPFWrapper(
            text: """
                struct call { u32 tid; u32 is_return; s64 value; };
                BPF_PERF_OUTPUT(calls);
                static int submit(void *ctx, u32 is_return, s64 value) {
                    u64 id = bpf_get_current_pid_tgid();
                    if ((u32)id != TARGET_TID) return 0;
                    struct call c = { .tid = (u32)id, .is_return = is_return, .value = value };
                    calls.perf_submit(ctx, &c, sizeof(c));
                    return 0;
                }
                int on_enter(struct tracepoint__syscalls__sys_enter_getppid *args) {
                    return submit(args, 0, args->__syscall_nr);
                }
                int on_return(struct tracepoint__syscalls__sys_exit_getppid *args) {
                    return submit(args, 1, args->ret);
                }
                """, cflags: ["-DTARGET_TID=\(ThisProcess.tid)"])
        defer { b.close() }
        let calls = Collected<EventRecord>()
        try b.table("calls").openPerfBuffer { calls.append($0) }
        let entry = try b.attach(function: "on_enter", to: AttachPoint(parsing: "syscall:getppid"))
        let exit = try b.attach(function: "on_return", to: .syscallExit("getppid"))
        // What runs in the kernel: the syscall's tracepoints.
        XCTAssertEqual(entry.point, .tracepoint("syscalls:sys_enter_getppid"))
        XCTAssertEqual(exit.point.description, "tracepoint:syscalls:sys_exit_getppid")
        let parent = CPUAffinity.onOneCPU {
            (0..<3).map { _ in getppid() }.last!
        }
        XCTAssertTrue(waitUntil { calls.count >= 6 })
        XCTAssertTrue(waitForDeliveryOfEverythingWrittenSoFar(b))
        let seen = calls.all.map { ($0.is_return?.intValue ?? -1, $0.value?.intValue ?? -1) }
        XCTAssertEqual(seen.map(\.0), [0, 1, 0, 1, 0, 1], "entry then return, three times")
        XCTAssertEqual(seen.filter { $0.0 == 0 }.map(\.1), [110, 110, 110], "__NR_getppid on x86-64")
        XCTAssertEqual(seen.filter { $0.0 == 1 }.map(\.1), [Int](repeating: Int(parent), count: 3))
    }

    func testUprobeAndUretprobeOnLibcGetpid() throws {
        try requireKernel()
        let b = try EBPFWrapper(
            text: callRecorderProgram + """
                int on_entry(struct pt_regs *ctx) { return submit(ctx, 0, 0); }
                int on_return(struct pt_regs *ctx) { return submit(ctx, 1, PT_REGS_RC(ctx)); }
                """, cflags: ["-DTARGET_TID=\(ThisProcess.tid)"])
        defer { b.close() }
        let calls = Collected<EventRecord>()
        let entry = try b.attach(function: "on_entry", to: .uprobe("getpid", in: "c", pid: ThisProcess.pid))
        let exit = try b.attach(function: "on_return", to: .uretprobe("getpid", in: "c", pid: ThisProcess.pid))
        // The library name resolved to the file the loader maps.
        let entryText = entry.point.description
        XCTAssertTrue(entryText.hasPrefix("uprobe:/"), entryText)
        XCTAssertTrue(entryText.hasSuffix("/libc.so.6:getpid?pid=\(ThisProcess.pid)"), entryText)
        XCTAssertEqual(exit.point.kind, .uretprobe)
        XCTAssertEqual(exit.point.description, "uretprobe:" + entryText.dropFirst("uprobe:".count))
        try b.table("calls").openPerfBuffer { calls.append($0) }

        let pid = CPUAffinity.onOneCPU {
            let pid = getpid()
            _ = getpid()
            return pid
        }
        XCTAssertTrue(waitUntil { calls.count >= 4 })
        XCTAssertTrue(waitForDeliveryOfEverythingWrittenSoFar(b))
        let seen = calls.all.map { ($0.is_return?.intValue ?? -1, $0.value?.intValue ?? -1) }
        XCTAssertEqual(seen.map(\.0), [0, 1, 0, 1], "entry then return, twice")
        XCTAssertEqual(
            seen.filter { $0.0 == 1 }.map(\.1), [Int(pid), Int(pid)], "uretprobe sees getpid's return value")

        entry.detach()
        exit.detach()
        // libbcc's detach path may itself call getpid() while the other probe is still
        // attached; what matters is that nothing arrives once both are gone.
        XCTAssertTrue(waitForDeliveryOfEverythingWrittenSoFar(b))
        let afterDetach = calls.count
        for _ in 0..<3 { _ = getpid() }
        XCTAssertTrue(waitForDeliveryOfEverythingWrittenSoFar(b))
        XCTAssertEqual(calls.count, afterDetach)
    }

    func testUprobeOnMissingBinaryOrSymbolIsAClearError() throws {
        try requireKernel()
        let b = try EBPFWrapper(text: "int f(struct pt_regs *ctx) { return 0; }")
        defer { b.close() }
        XCTAssertThrowsError(try b.attach(function: "f", to: .uprobe("main", in: "/no/such/binary"))) { error in
            XCTAssertEqual((error as! EBPFError).code, .notFound)
        }
        XCTAssertThrowsError(try b.attach(function: "f", to: .uprobe("no_such_symbol_xyz", in: "c"))) { error in
            let error = error as! EBPFError
            XCTAssertEqual(error.code, .notFound)
            XCTAssertTrue(error.message.contains("no_such_symbol_xyz"), error.message)
        }
        XCTAssertThrowsError(try b.attach(function: "f", to: .uprobe("f", in: "no_such_library_xyz"))) { error in
            XCTAssertEqual((error as! EBPFError).code, .notFound)
        }
        XCTAssertTrue(b.session.attachments.isEmpty)
    }

    func testSoftwarePerfEventSamplesOurProcess() throws {
        try requireKernel()
        let b = try EBPFWrapper(
            text: """
                #include <uapi/linux/bpf_perf_event.h>
                struct sample { u32 pid; u32 tid; };
                BPF_PERF_OUTPUT(samples);
                int on_sample(struct bpf_perf_event_data *ctx) {
                    u64 id = bpf_get_current_pid_tgid();
                    struct sample s = { .pid = id >> 32, .tid = (u32)id };
                    samples.perf_submit(ctx, &s, sizeof(s));
                    return 0;
                }
                """)
        defer { b.close() }
        let samples = Collected<EventRecord>()
        try b.table("samples").openPerfBuffer { samples.append($0) }
        // Every millisecond of CPU time of the thread whose id is the process id: the main
        // thread, which runs the tests (a perf event given a pid follows that one thread).
        XCTAssertEqual(ThisProcess.tid, ThisProcess.pid, "the test runs on the main thread")
        let attached = ContinuousClock.now
        let attachment = try b.attach(
            function: "on_sample",
            to: .perfEvent(.software(.cpuClock), sampling: .period(1_000_000), pid: ThisProcess.pid))
        XCTAssertEqual(attachment.point.description, "software:cpu-clock:1000000?pid=\(ThisProcess.pid)")
        // This thread's CPU time until 100 samples have come, however long a busy machine
        // takes to give it. The kernel samples at most once per period of the thread's running
        // time; a guest whose timer fires late (qemu on a loaded host) samples less often.
        let start = ThreadCPUTime.now
        var spin: UInt64 = 0
        while samples.count < 100 && ThreadCPUTime.now - start < .seconds(120) {
            spin &+= ThreadCPUTime.spin(for: .milliseconds(20))
            _ = waitForDeliveryOfEverythingWrittenSoFar(b)
        }
        let cpu = ThreadCPUTime.now - start
        attachment.detach()
        let wall = ContinuousClock.now - attached
        XCTAssertGreaterThanOrEqual(samples.count, 100, "sampled while \(cpu) of CPU went by")
        // The event's clock runs while the thread runs, by the kernel's clock: that includes
        // time the hypervisor stole from this VM, which the thread's CPU time leaves out (106
        // samples came in 100 ms of CPU time under load). So the ceiling that holds is wall
        // time: at most one sample per ms of it, one more at each edge.
        XCTAssertGreaterThanOrEqual(wall, .milliseconds(samples.count - 2), "at most one sample per ms")
        XCTAssertEqual(Set(samples.all.compactMap { $0.pid?.intValue }), [Int(ThisProcess.pid)])
        XCTAssertGreaterThan(spin, 0)

        // Every sample taken before the detach is delivered before the count is read.
        XCTAssertTrue(waitForDeliveryOfEverythingWrittenSoFar(b), "a drain pass after the detach")
        let afterDetach = samples.count
        spin &+= ThreadCPUTime.spin(for: .milliseconds(100))
        XCTAssertTrue(waitForDeliveryOfEverythingWrittenSoFar(b), "a drain pass after the second spin")
        XCTAssertEqual(samples.count, afterDetach, "no sample after detach")
        XCTAssertGreaterThan(spin, 0)
    }

    func testTraceFieldsReadsBpfTracePrintk() throws {
        try requireKernel()
        let token = Int.random(in: 100_000..<999_999)
        let b = try EBPFWrapper(
            text: """
                int hello(void *ctx) {
                    if ((u32)bpf_get_current_pid_tgid() != TARGET_TID) return 0;
                    bpf_trace_printk("hello %d\\n", TOKEN);
                    return 0;
                }
                """, cflags: ["-DTARGET_TID=\(ThisProcess.tid)", "-DTOKEN=\(token)"])
        defer { b.close() }
        try b.attachTracepoint(tp: "syscalls:sys_enter_getppid", fnName: "hello")
        // Open the pipe (and take what it already holds) before the event, as a tool reads
        // it: once, on a freshly booted 6.18, the line of an event caused before the pipe's
        // first open never arrived (cause not found; it did not recur).
        var seen: [String] = []
        let drainEnd = ContinuousClock.now + .seconds(2)
        while ContinuousClock.now < drainEnd, let old = try b.session.tracePipe.readLine(timeout: .milliseconds(100)) {
            seen.append(old)
        }
        _ = getppid()
        var found: TraceLine?
        let deadline = ContinuousClock.now + eventTimeout
        while found == nil, ContinuousClock.now < deadline {
            guard let line = try b.traceFields(timeout: .seconds(1)) else { continue }
            seen.append("\(line)")
            if line.message == "hello \(token)" { found = line }
        }
        let line = try XCTUnwrap(found, "no trace_pipe line with our token; read: \(seen)")
        XCTAssertEqual(line.pid, ThisProcess.tid)
        // The kernel prints "<...>" when its saved-cmdlines cache has no name for the pid.
        XCTAssertTrue(line.task == ThisProcess.comm || line.task == "<...>", line.task)
        XCTAssertGreaterThan(line.timestamp, 0)
    }

    func testTraceReadlineTimesOut() throws {
        try requireKernel()
        let b = try EBPFWrapper()
        defer { b.close() }
        // Drain whatever is there, then expect silence from a program-less wrapper's view.
        let start = ContinuousClock.now
        while try b.session.tracePipe.readLine(timeout: .milliseconds(50)) != nil,
            ContinuousClock.now - start < .seconds(2)
        {}
        let waitStart = ContinuousClock.now
        _ = try b.session.tracePipe.readLine(timeout: .milliseconds(100))
        XCTAssertLessThan(ContinuousClock.now - waitStart, .seconds(1))
    }
}
