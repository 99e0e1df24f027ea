@_spi(Generator) @testable import EBPF
import Foundation
import Synchronization
import XCTest
@testable import EBPFKernel

/// Issue #6: nothing leaks, nothing hangs, bad input gets a clear error. Figures are printed
/// as `RELIABILITY …` lines so a run's log shows what was measured.
final class ReliabilityTests: XCTestCase {
    /// Cycles of the lifecycle test: EBPF_LIFECYCLE_CYCLES (test.sh sets 100), else 20.
    static var cycles: Int { Int(ProcessInfo.processInfo.environment["EBPF_LIFECYCLE_CYCLES"] ?? "") ?? 20 }

    /// Whether this run is under ThreadSanitizer or AddressSanitizer (test.sh sets EBPF_SANITIZER).
    static var underSanitizer: Bool { ProcessInfo.processInfo.environment["EBPF_SANITIZER"] != nil }

    /// The lines of kprobe_events and uprobe_events under each tracefs mount that has them
    /// (/sys/kernel/tracing, and /sys/kernel/debug/tracing where debugfs is mounted) that
    /// process `pid` created: the legacy probes the library and libbcc create where the
    /// kernel has no probe PMU, which outlive their process unless removed. Other
    /// processes' (another test run's, a tracer's) are left out.
    static func probeEventLines(of pid: pid_t) -> [String] {
        var lines: [String] = []
        for root in ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"] {
            for name in ["kprobe_events", "uprobe_events"] {
                // Checked first: FoundationEssentials leaks its read buffer when the read fails.
                let path = "\(root)/\(name)"
                guard FileManager.default.fileExists(atPath: path) else { continue }
                // The library names its events `…_ebpf_PID_N`, libbcc `…_bcc_PID`.
                lines += (KernelFiles.read(path) ?? "").split(separator: "\n").map(String.init).filter {
                    $0.contains("_ebpf_\(pid)_") || $0.hasSuffix("_bcc_\(pid)") || $0.contains("_bcc_\(pid) ")
                }
            }
        }
        return lines
    }

    /// Submits `struct hit` to `hits` for thread TARGET_TID (TARGET_PID where no TARGET_TID
    /// is given), with `path` saying which attach delivered it: 0 tracepoint, 1 uprobe,
    /// 2 kprobe.
    static let nativeProgram = """
        #ifndef TARGET_TID
        #define TARGET_TID 0
        #endif
        struct hit { u32 pid; u32 path; };
        BPF_PERF_OUTPUT(hits);
        static int submit(void *ctx, u32 path) {
            u64 id = bpf_get_current_pid_tgid();
            struct hit h = { .pid = id >> 32, .path = path };
            if (h.pid != TARGET_PID || (TARGET_TID != 0 && (u32)id != TARGET_TID)) return 0;
            hits.perf_submit(ctx, &h, sizeof(h));
            return 0;
        }
        int on_tracepoint(void *ctx) { return submit(ctx, 0); }
        int on_uprobe(struct pt_regs *ctx) { return submit(ctx, 1); }
        int on_kprobe(struct pt_regs *ctx) { return submit(ctx, 2); }
        """

    /// `struct hit` of ``nativeProgram``.
    struct Hit {
        var pid: UInt32
        var path: UInt32
    }

    func testLifecycleCyclesLeaveNothingBehind() throws {
        try requireKernel()
        let cycles = Self.cycles
        let fdsBefore = ThisProcess.openFileDescriptors
        let eventsBefore = Self.probeEventLines(of: getpid())
        let kprobes = KernelFeatures.supportsKprobes
        var rssAfterWarmUp = 0
        let warmUp = min(10, cycles / 2)
        let names = ["tracepoint", "uprobe", "kprobe", "closure probe"]
        // What one getppid() and one getpid() on this thread deliver on each path.
        let expected = [1, 1, kprobes ? 1 : 0, 1]
        for cycle in 0..<cycles {
            let counts = Locked([0, 0, 0, 0])
            let b = try EBPFWrapper(
                text: Self.nativeProgram,
                cflags: ["-DTARGET_PID=\(ThisProcess.pid)", "-DTARGET_TID=\(ThisProcess.tid)"])
            try b.attachTracepoint(tp: "syscalls:sys_enter_getppid", fnName: "on_tracepoint")
            try b.attach(function: "on_uprobe", to: .uprobe("getpid", in: "c", pid: ThisProcess.pid))
            if kprobes { try b.attachKprobe(event: "__x64_sys_getppid", fnName: "on_kprobe") }
            let probe = try b.attach(.syscall("getppid"), filter: ProbeFilter(threadID: ThisProcess.tid)) { _ in
                counts.withLock { $0[3] += 1 }
            }
            // Opened last: what attaching did on this thread is not counted.
            try b.table("hits").openPerfBuffer(as: Hit.self) { hit in counts.withLock { $0[Int(hit.path)] += 1 } }
            _ = getppid()
            _ = getpid()
            let arrived = waitUntil { counts.withLock { zip($0, expected).allSatisfy { $0 >= $1 } } }
            let seen = counts.withLock { $0 }
            XCTAssertTrue(
                arrived,
                "cycle \(cycle): paths that delivered nothing: \(zip(names, zip(seen, expected)).filter { $1.0 < $1.1 }.map(\.0))"
            )
            XCTAssertEqual(seen, expected, "cycle \(cycle): deliveries per path (\(names.joined(separator: ", ")))")
            probe.detach()
            b.close()
            if cycle + 1 == warmUp { rssAfterWarmUp = ProcessMemory.residentKiB() }
        }
        let fdsAfter = ThisProcess.openFileDescriptors
        let growth = ProcessMemory.residentKiB() - rssAfterWarmUp
        print(
            "RELIABILITY lifecycle cycles=\(cycles) fds_before=\(fdsBefore) fds_after=\(fdsAfter) probe_events_before=\(eventsBefore) probe_events_after=\(Self.probeEventLines(of: getpid())) rss_growth_kb=\(growth)"
        )
        XCTAssertEqual(fdsAfter, fdsBefore, "every descriptor released")
        XCTAssertEqual(Self.probeEventLines(of: getpid()), eventsBefore, "no kprobe/uprobe event left in tracefs")
        // Under a sanitizer the resident size measures its shadow memory and quarantine, not
        // the library: ThreadSanitizer's grew 1.2 MB in one CI run and 14 MB in the next over
        // the same 10 cycles, failing the run. There, AddressSanitizer's LeakSanitizer checks
        // for leaks; without a sanitizer, the resident size must stay flat.
        if !Self.underSanitizer {
            XCTAssertLessThan(growth, 10 * 1024, "memory growth after warm-up under 10 MB")
        }
    }

    /// A thread that calls getppid() as fast as it can until stopped; returns the calls made.
    final class Load: @unchecked Sendable {
        // @unchecked Sendable: `running` and `calls` are atomics; the thread is joined by
        // waiting for `done`.
        let running = Atomic<Bool>(true)
        let calls = Atomic<Int>(0)
        let done = DispatchSemaphore(value: 0)

        /// - Parameter cpu: Pin the thread to this CPU.
        init(limit: Int = .max, cpu: Int? = nil) {
            Thread { [self] in
                if let cpu { CPUAffinity.pinCallingThread(to: cpu) }
                var made = 0
                while running.load(ordering: .relaxed), made < limit {
                    _ = getppid()
                    made += 1
                    if made % 1024 == 0 { calls.store(made, ordering: .relaxed) }
                }
                calls.store(made, ordering: .relaxed)
                done.signal()
            }.start()
        }

        /// Stops the thread early and returns the calls it made.
        func stop() -> Int {
            running.store(false, ordering: .relaxed)
            return finish()
        }

        /// Waits for the thread to make its `limit` calls (or be stopped), at most 5 minutes;
        /// the calls made.
        func finish() -> Int {
            XCTAssertEqual(done.wait(timeout: .now() + 300), .success, "the load thread finishes")
            done.signal()
            return calls.load(ordering: .relaxed)
        }
    }

    func testCloseWhileEventsFlowReturnsPromptly() throws {
        try requireKernel()
        // close() delivers what the rings still hold, which under a flood is all they hold:
        // small rings (8 pages per CPU) bound that final delivery whatever the machine, where
        // automatically sized ones (up to 64 MiB) make it as long as the machine is slow at
        // delivering them.
        let rings = PerfBufferOptions(pageCount: 8)
        let native = Atomic<Int>(0)
        let generated = Atomic<Int>(0)
        /// A wrapper with a native tracepoint and a closure probe on getppid, each with its
        /// ring, counting what they deliver.
        func tracingWrapper() throws -> (EBPFWrapper<CProgram>, EventBuffer, Probe) {
            let b = try EBPFWrapper(text: Self.nativeProgram, cflags: ["-DTARGET_PID=\(ThisProcess.pid)"])
            try b.attachTracepoint(tp: "syscalls:sys_enter_getppid", fnName: "on_tracepoint")
            let buffer = try b.table("hits").openPerfBuffer(options: rings) { _ in native.add(1, ordering: .relaxed) }
            let probe = try b.attach(
                .syscall("getppid"), filter: ProbeFilter(processID: ThisProcess.pid),
                options: ProbeOptions(perfBuffer: rings)
            ) { _ in
                generated.add(1, ordering: .relaxed)
            }
            return (b, buffer, probe)
        }
        func timed(_ close: () -> Void) -> Duration {
            let start = ContinuousClock.now
            close()
            return ContinuousClock.now - start
        }
        var slowest = Duration.zero
        var slowestIdle = Duration.zero
        for _ in 0..<5 {
            // The same wrapper with nothing flowing: what detaching costs on this machine
            // now, however busy it is.
            let (idle, _, _) = try tracingWrapper()
            slowestIdle = max(slowestIdle, timed { idle.close() })

            native.store(0, ordering: .relaxed)
            generated.store(0, ordering: .relaxed)
            let (b, buffer, probe) = try tracingWrapper()
            let load = Load()
            // Both paths busy (thousands of events, however slow an instrumented build is).
            XCTAssertTrue(
                waitUntil(timeout: .seconds(30)) {
                    native.load(ordering: .relaxed) > 2_000 && generated.load(ordering: .relaxed) > 2_000
                },
                "native \(native.load(ordering: .relaxed)) (lost \(buffer.lostCount)), generated \(generated.load(ordering: .relaxed)) (lost \(probe.lostCount)), calls \(load.calls.load(ordering: .relaxed))"
            )
            slowest = max(slowest, timed { b.close() })
            let after = (native.load(ordering: .relaxed), generated.load(ordering: .relaxed))
            // Still flooding: a callback after close() would have events to deliver.
            let calls = load.calls.load(ordering: .relaxed)
            XCTAssertTrue(waitUntil { load.calls.load(ordering: .relaxed) > calls + 1_000 })
            _ = load.stop()
            XCTAssertEqual(native.load(ordering: .relaxed), after.0, "nothing delivered after close()")
            XCTAssertEqual(generated.load(ordering: .relaxed), after.1, "nothing delivered after close()")
        }
        func milliseconds(_ duration: Duration) -> Double {
            Double(duration.components.attoseconds) / 1e15 + Double(duration.components.seconds) * 1000
        }
        print(
            "RELIABILITY close_under_load slowest_ms=\(milliseconds(slowest)) idle_slowest_ms=\(milliseconds(slowestIdle))"
        )
        // The load outlives each close (the wait for 1,000 more calls above), so a close that
        // waited for the flood to end would never return: returning at all shows it did not.
        // What it takes is mostly the kernel's detaching of the probes (RCU grace periods:
        // about 100 ms on a quiet 2-CPU VM) and its bounded final delivery, and it grows with
        // whatever else the machine runs: beside two emulated guests and builds, 860 ms and
        // 1.7 s where the idle close took 100 ms. So the bound is one no such load reaches,
        // and the figures are printed.
        XCTAssertLessThan(slowest, .seconds(10))
    }

    func testWrappersOnManyThreadsAtOnce() throws {
        try requireKernel()
        let failures = Collected<String>()
        let finished = DispatchSemaphore(value: 0)
        let threads = 4
        for index in 0..<threads {
            Thread {
                defer { finished.signal() }
                do {
                    for round in 0..<3 {
                        let b = try EBPFWrapper()
                        let seen = Atomic<Int>(0)
                        let tid = ThisProcess.tid
                        try b.attach(.syscall("getppid"), filter: ProbeFilter(threadID: tid)) { _ in
                            seen.add(1, ordering: .relaxed)
                        }
                        for _ in 0..<50 { _ = getppid() }
                        let deadline = ContinuousClock.now + eventTimeout
                        while seen.load(ordering: .relaxed) < 50, ContinuousClock.now < deadline { usleep(1000) }
                        if seen.load(ordering: .relaxed) != 50 {
                            failures.append("thread \(index) round \(round): \(seen.load(ordering: .relaxed)) of 50")
                        }
                        if round % 2 == 0 { b.close() }  // the others close in deinit
                    }
                } catch {
                    failures.append("thread \(index): \(error)")
                }
            }.start()
        }
        for _ in 0..<threads {
            XCTAssertEqual(finished.wait(timeout: .now() + 300), .success, "every thread finishes")
        }
        XCTAssertEqual(failures.all, [])
    }

    /// Automatically sized perf rings stay within the wrapper's budget: six buffers of
    /// 400-byte records would each take 2,048 pages per CPU (96 MiB on 2 CPUs, 6 GiB on
    /// 128); the first four fill the 64 MiB, the others get 8 pages per CPU, and a closed
    /// buffer's share comes back. (This machine and the test kernel's VM have 2 CPUs; the
    /// unit test `testAutomaticRingSizesStayWithinTheBudget` covers larger counts.)
    func testAutomaticallySizedPerfRingsStayWithinTheWrapperBudget() throws {
        try requireKernel()
        let tables = (0..<6).map { "big\($0)" }
        let b = try EBPFWrapper(
            text: "struct big { char data[400]; };\n"
                + tables.map { "BPF_PERF_OUTPUT(\($0));" }.joined(separator: "\n") + """

                    int submit_all(void *ctx) {
                        struct big record = {};
                        \(tables.map { "\($0).perf_submit(ctx, &record, sizeof(record));" }.joined(separator: "\n"))
                        return 0;
                    }
                    """)
        defer { b.close() }
        let cpus = try SystemFiles.onlineCPUs().count
        let before = Self.perfRingMappings()
        var buffers = try tables.map { try b.table($0).openPerfBuffer { _ in } }
        let rings = Self.perfRingMappings().subtracting(before)
        let dataPages = rings.map { $0.pages - 1 }  // Each mapping has a metadata page first.
        XCTAssertEqual(rings.count, 6 * cpus, "one ring per CPU per buffer")
        XCTAssertLessThanOrEqual(
            dataPages.reduce(0, +) * 4096,
            PerfBufferOptions.automaticBytesPerWrapper + 2 * cpus * PerfBufferOptions.minimumAutomaticPageCount * 4096)
        if cpus == 2 {
            XCTAssertEqual(dataPages.sorted(), [8, 8, 8, 8] + [Int](repeating: 2048, count: 8))
        }
        buffers[0].close()
        let afterClose = Self.perfRingMappings()
        buffers[0] = try b.table(tables[0]).openPerfBuffer { _ in }
        let reopened = Self.perfRingMappings().subtracting(afterClose)
        XCTAssertEqual(reopened.count, cpus)
        if cpus == 2 {
            // 16 MiB came back; the two small buffers hold 128 KiB of it: 8 MiB rings fit.
            XCTAssertEqual(reopened.map { $0.pages - 1 }, [1024, 1024], "the closed buffer's share came back")
        }
        print(
            "RELIABILITY six automatically sized perf buffers of 400-byte records on \(cpus) CPUs: \(dataPages.reduce(0, +) * 4 / 1024) MiB of rings"
        )
    }

    /// This process's perf ring mappings (`anon_inode:[perf_event]` in /proc/self/maps).
    static func perfRingMappings() -> Set<PerfRingMapping> {
        let maps = KernelFiles.read("/proc/self/maps") ?? ""
        return Set(
            maps.split(separator: "\n").filter { $0.hasSuffix("[perf_event]") }.compactMap { line in
                let range = line.split(separator: " ").first?.split(separator: "-") ?? []
                guard range.count == 2, let start = UInt64(range[0], radix: 16), let end = UInt64(range[1], radix: 16)
                else { return nil }
                return PerfRingMapping(start: start, pages: Int((end - start) / 4096))
            })
    }

    struct PerfRingMapping: Hashable {
        var start: UInt64
        var pages: Int
    }

    func testSlowConsumerNeverBlocksTheTracedProcessAndReportsLoss() throws {
        try requireKernel()
        let calls = 50_000
        let b = try EBPFWrapper()
        defer { b.close() }
        let lostReports = Atomic<UInt64>(0)
        let tid = Atomic<Int32>(0)
        // A one-page ring per CPU and a closure that takes 1 ms per event.
        let probe = try b.attach(
            .syscall("getppid"), filter: ProbeFilter(processID: ThisProcess.pid),
            options: ProbeOptions(perfBuffer: PerfBufferOptions(pageCount: 1)),
            lost: { lostReports.add($0, ordering: .relaxed) },
            handler: { event in
                tid.store(event.threadID, ordering: .relaxed)
                usleep(1000)
            })
        // On one CPU: the kernel reports a CPU's losses at that CPU's next output.
        let start = ContinuousClock.now
        let made = Load(limit: calls, cpu: 0).finish()
        let loadTime = ContinuousClock.now - start
        let receivedDuringLoad = probe.receivedCount
        XCTAssertEqual(made, calls)
        // The consumer takes at least 1 ms per event. A traced thread made to wait for it
        // would have made its calls only as events were delivered (all but a one-page ring's
        // worth); this one finished before even half could have been.
        XCTAssertLessThan(
            receivedDuringLoad, UInt64(calls / 2),
            "\(calls) calls took \(loadTime), \(receivedDuringLoad) events delivered meanwhile")
        // Delivery resumes once the load stops; the kernel reports the losses it holds at the
        // next output that finds room in the ring (a PERF_RECORD_LOST ahead of it), so one
        // more call at a time until one finds room: then every call is accounted for,
        // delivered or counted as lost. Each such call is delivered or lost too.
        var extra = 0
        var accounted = false
        let deadline = ContinuousClock.now + .seconds(120)
        while !accounted, ContinuousClock.now < deadline {
            XCTAssertEqual(Load(limit: 1, cpu: 0).finish(), 1)
            extra += 1
            accounted = waitUntil(timeout: .milliseconds(500)) {
                probe.receivedCount + probe.lostCount == UInt64(calls + extra)
            }
        }
        XCTAssertTrue(
            accounted, "received \(probe.receivedCount) + lost \(probe.lostCount) of \(calls) + \(extra) calls")
        XCTAssertNotEqual(tid.load(ordering: .relaxed), 0)
        XCTAssertGreaterThan(probe.lostCount, 0)
        XCTAssertEqual(lostReports.load(ordering: .relaxed), probe.lostCount, "the lost callback saw every loss")
        print(
            "RELIABILITY back_pressure calls=\(calls) load=\(loadTime) received=\(probe.receivedCount) lost=\(probe.lostCount)"
        )
    }

    func testNoKernelHeadersTreeSaysHowToInstallOne() throws {
        try requireKernel()
        // /lib/modules hidden by an empty directory, in a private mount namespace.
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("ebpf-empty-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: empty) }
        let (termination, text) = try runToCompletion(
            "/usr/bin/unshare",
            [
                "-m", "sh", "-c", "mount --bind \"$1\" /lib/modules && exec \"$0\" 5",
                try builtExample("hello-native").path, empty.path,
            ])
        XCTAssertEqual(termination, .exited(1), text)
        XCTAssertTrue(text.contains("kernel headers missing") && text.contains("apt-get install linux-headers-"), text)
    }

    func testMissingKernelHeadersSayHowToInstallThem() throws {
        try requireKernel()
        setenv("BCC_KERNEL_SOURCE", "/nonexistent-kernel-headers", 1)
        defer { unsetenv("BCC_KERNEL_SOURCE") }
        XCTAssertThrowsError(try EBPFWrapper(text: "int f(void *ctx) { return 0; }")) { error in
            let error = error as! EBPFError
            XCTAssertEqual(error.code, .kernelHeadersMissing, "\(error)")
            XCTAssertTrue(error.message.contains("apt-get install linux-headers-$(uname -r)"), error.message)
        }
    }

    /// setpriv arguments that drop root: uid and gid 65534, no groups, and only `caps`.
    static func unprivileged(caps: String?) -> [String] {
        ["--reuid=65534", "--regid=65534", "--clear-groups"]
            + (caps.map { ["--inh-caps=\($0)", "--ambient-caps=\($0)"] } ?? ["--inh-caps=-all"])
    }

    func testWithoutPrivilegesTheErrorNamesTheCapabilities() throws {
        try requireKernel()
        let (termination, output) = try runToCompletion(
            "/usr/bin/setpriv",
            Self.unprivileged(caps: nil) + [try builtExample("ebpf-trace").path, "bind", "--duration", "1"])
        XCTAssertEqual(termination, .exited(1), output)
        XCTAssertTrue(output.contains("permission denied"), output)
        XCTAssertTrue(output.contains("CAP_BPF") && output.contains("CAP_PERFMON"), output)
    }

    /// kernel.perf_event_paranoid; Debian's and Ubuntu's kernels add a level 3 (Debian's
    /// default) at which perf events need CAP_SYS_ADMIN.
    static var perfEventParanoid: Int {
        Int(
            (try? String(contentsOfFile: "/proc/sys/kernel/perf_event_paranoid", encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 2
    }

    /// Without root, CAP_BPF, CAP_PERFMON and CAP_DAC_READ_SEARCH (tracefs is 0700) trace a
    /// syscall: its probe is routed from a raw tracepoint and delivers through a ring buffer,
    /// so it opens no perf event, even where `perf_event_paranoid` 3 (Debian's kernels)
    /// reserves perf events to CAP_SYS_ADMIN. A tracepoint of another kind opens one there,
    /// and the error says what to grant.
    func testCapabilitiesAloneAreEnough() throws {
        try requireKernel()
        let caps = "+bpf,+perfmon,+dac_read_search"
        let tracer = try builtExample("ebpf-trace").path
        if Self.perfEventParanoid > 2 {
            let (termination, output) = try runToCompletion(
                "/usr/bin/setpriv",
                Self.unprivileged(caps: caps) + [tracer, "sched:sched_process_exec", "--duration", "1"])
            XCTAssertEqual(termination, .exited(1), output)
            XCTAssertTrue(output.contains("permission denied") && output.contains("CAP_SYS_ADMIN"), output)
            XCTAssertTrue(output.contains("kernel.perf_event_paranoid to \(Self.perfEventParanoid)"), output)
        }
        let child = try ChildProcess(
            "/usr/bin/setpriv",
            Self.unprivileged(caps: caps) + [tracer, "bind", "--pid", String(getpid()), "--format", "json"])
        XCTAssertTrue(
            child.waitForOutput("tracing ", onStandardError: true, timeout: childReadyTimeout), child.standardError)
        let fd = bindLoopbackSocket()
        close(fd)
        child.signal(SIGINT)
        XCTAssertEqual(child.wait(), .exited(0), child.standardError)
        let output = child.standardOutput
        XCTAssertTrue(output.contains("\"fd\":\(fd)"), output)
        XCTAssertTrue(output.contains("\"umyaddr\":\"127.0.0.1:0\""), output)
    }

    func testTracefsNotMountedIsSaidPlainly() throws {
        try requireKernel()
        // In a private mount namespace, so the machine keeps its tracefs.
        let script =
            "umount /sys/kernel/debug/tracing 2>/dev/null; umount /sys/kernel/debug; umount /sys/kernel/tracing; exec \"$0\" \"$@\""
        let (termination, text) = try runToCompletion(
            "/usr/bin/unshare",
            ["-m", "sh", "-c", script, try builtExample("ebpf-trace").path, "bind", "--duration", "1"])
        XCTAssertEqual(termination, .exited(1), text)
        XCTAssertTrue(text.contains("tracefs is not mounted") && text.contains("mount -t tracefs"), text)
        XCTAssertTrue(try Tracefs.root().hasSuffix("tracing"), "the host's tracefs is untouched")
    }
}
