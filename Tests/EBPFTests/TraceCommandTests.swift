@testable import EBPF
import Foundation
import Synchronization
import XCTest

/// The ebpf-trace example (the README's main job) as a user runs it: a real workload,
/// JSON Lines that parse, a summary, and a clean exit on each stop signal.
final class TraceCommandTests: XCTestCase {
    var tracer: URL { get throws { try builtExample("ebpf-trace") } }

    /// Starts the tracer and returns once it reports that its probes are attached.
    func start(_ arguments: [String], environment: [String: String] = [:]) throws -> ChildProcess {
        let run = try ChildProcess(try tracer.path, arguments, environment: environment)
        XCTAssertTrue(
            run.waitForOutput("tracing ", onStandardError: true, timeout: childReadyTimeout), run.standardError)
        return run
    }

    /// Stops the tracer with `signal` and returns how it ended, its stdout lines and stderr.
    func finish(_ run: ChildProcess, signal number: Int32) -> (
        termination: ChildProcess.Termination, lines: [String], stderr: String
    ) {
        run.signal(number)
        let termination = run.wait()
        return (termination, run.standardOutput.split(separator: "\n").map(String.init), run.standardError)
    }

    func testJSONLinesOfARealWorkloadParse() throws {
        try requireKernel()
        let run = try start(["bind", "openat", "--pid", String(getpid()), "--format", "json"])
        let path = "/tmp/ebpf-trace-test-\(UUID().uuidString)"
        close(open(path, O_CREAT | O_WRONLY, 0o600))
        let fd = bindLoopbackSocket()
        defer { close(fd) }
        close(open(path, O_RDONLY))
        unlink(path)
        usleep(200_000)
        let (termination, lines, stderr) = finish(run, signal: SIGINT)
        XCTAssertEqual(termination, .exited(0), stderr)

        let objects = try lines.map { line in
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], line)
        }
        XCTAssertFalse(objects.isEmpty)
        for object in objects {
            XCTAssertEqual(object["pid"] as? Int, Int(getpid()), "--pid filters in the kernel")
        }
        let binds = objects.filter { $0["event"] as? String == "syscalls:sys_enter_bind" }
        XCTAssertEqual(binds.count, 1)
        let bindFields = try XCTUnwrap(binds.first?["fields"] as? [String: Any])
        XCTAssertEqual(bindFields["fd"] as? Int, Int(fd))
        XCTAssertEqual(bindFields["umyaddr"] as? String, "127.0.0.1:0")
        let opens = objects.filter { ($0["fields"] as? [String: Any])?["filename"] as? String == path }
        XCTAssertEqual(opens.count, 2, "created, then opened again")
        XCTAssertTrue(stderr.contains("syscalls:sys_enter_bind"), stderr)
        XCTAssertTrue(stderr.contains("COUNT"), "a summary on exit: \(stderr)")
    }

    /// Lines appear while the tracer runs, one flush interval after their event, not when
    /// 64 KiB have piled up or at exit. And the several events are one program.
    func testEventLinesAppearWhileTheTracerRuns() throws {
        try requireKernel()
        let run = try start(["getppid", "getsid", "getpgid", "--pid", String(getpid()), "--format", "json"])
        XCTAssertTrue(run.standardOutput.isEmpty, run.standardOutput)
        _ = getsid(0)
        XCTAssertTrue(
            run.waitForOutput("syscalls:sys_enter_getsid", timeout: eventTimeout),
            "the line is out before the tracer stops: \(run.standardOutput)")
        let (termination, lines, stderr) = finish(run, signal: SIGINT)
        XCTAssertEqual(termination, .exited(0), stderr)
        XCTAssertEqual(
            lines.filter { $0.contains("syscalls:sys_enter_getsid") }.count, 1, lines.joined(separator: "\n"))
        XCTAssertTrue(
            stderr.contains(
                "tracing syscalls:sys_enter_getppid, syscalls:sys_enter_getsid, syscalls:sys_enter_getpgid"),
            stderr)
    }

    /// The tracer's probes and aggregations are emitted, so it never opens the compiler library (clang and
    /// LLVM); compiled (`EBPF_COMPILE_PROBES=1`), a first start releases the compiler's code
    /// after the compile, and a second start loads the cache entry without opening it.
    func testATracerStartsWithoutTheCompiler() throws {
        try requireKernel()
        let directory = NSTemporaryDirectory() + "ebpf-trace-cache-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let arguments = ["getppid", "getsid", "--pid", "1"]
        let counting = ["openat", "--count-by", "comm", "--histogram", "flags", "--pid", "1"]
        let starts: [(name: String, arguments: [String], environment: [String: String], compilerMapped: Bool)] = [
            ("emitted", arguments, ["EBPF_COMPILE_CACHE": directory], false),
            ("emitted aggregation", counting, ["EBPF_COMPILE_CACHE": directory], false),
            ("compiling", arguments, ["EBPF_COMPILE_CACHE": directory, "EBPF_COMPILE_PROBES": "1"], true),
            ("cached", arguments, ["EBPF_COMPILE_CACHE": directory, "EBPF_COMPILE_PROBES": "1"], false),
        ]
        for start in starts {
            let run = try self.start(start.arguments, environment: start.environment)
            let maps = KernelFiles.read("/proc/\(run.pid)/maps") ?? ""
            let resident = ProcessMemory.compilerCodeResidentKiB(of: String(run.pid))
            let (termination, _, stderr) = finish(run, signal: SIGINT)
            XCTAssertEqual(termination, .exited(0), stderr)
            XCTAssertTrue(maps.contains("/libbcc_bpf.so"), "\(start.name) start: libbcc's runtime is open")
            XCTAssertEqual(maps.contains("/libbcc.so"), start.compilerMapped, "\(start.name) start: the compiler")
            XCTAssertEqual(maps.contains("libLLVM"), start.compilerMapped, "\(start.name) start: LLVM")
            XCTAssertLessThan(resident, 1_024, "\(start.name) start: KiB of compiler code resident")
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
            XCTAssertEqual(
                entries.filter { $0.hasSuffix(".bpfobject") }.count, start.name.hasPrefix("emitted") ? 0 : 1,
                "\(start.name): \(entries)")
        }
    }

    /// SIGINT, SIGTERM and SIGHUP each stop the tracer cleanly: exit status 0, the events
    /// seen, a summary, and nothing left behind.
    func testEachStopSignalDetachesAndSummarizes() throws {
        try requireKernel()
        for number in [SIGINT, SIGTERM, SIGHUP] {
            let run = try start(["bind", "--pid", String(getpid())])
            // The tracer's own, from its descriptors, whatever other processes load meanwhile.
            let programs = BPFTool.ids("prog", heldBy: run.pid)
            XCTAssertFalse(programs.isEmpty, "the tracer's program is loaded")
            close(bindLoopbackSocket())
            usleep(100_000)
            let (termination, lines, stderr) = finish(run, signal: number)
            XCTAssertEqual(termination, .exited(0), "signal \(number) handled, not fatal: \(stderr)")
            XCTAssertTrue(lines.first?.hasPrefix("TIME(s)") ?? false, "table header")
            XCTAssertEqual(
                lines.filter { $0.contains("syscalls:sys_enter_bind") && $0.contains("umyaddr=127.0.0.1:0") }.count, 1,
                lines.joined(separator: "\n"))
            let summary = try XCTUnwrap(lines.last { $0.hasPrefix("syscalls:sys_enter_bind") })
            XCTAssertEqual(summary.split(separator: " ").map(String.init), ["syscalls:sys_enter_bind", "1", "0"])
            // Probes live in the tracer's file descriptors, gone with it (the kernel frees
            // programs asynchronously); the one state that could outlive it, a legacy
            // kprobe/uprobe event in tracefs, is not there either.
            XCTAssertTrue(
                waitUntil(timeout: .seconds(30)) {
                    ((try? BPFTool.ids("prog")) ?? programs).isDisjoint(with: programs)
                }, "signal \(number): the tracer's programs are gone (bpftool)")
            XCTAssertEqual(ReliabilityTests.probeEventLines(of: run.pid), [])
        }
    }

    /// A traced process chooses its own name and its files' names: a thread named with
    /// terminal escapes opening a file whose name holds a newline, a forged line, DEL and a
    /// C1 control. The table shows each of them escaped, on the event's own line; JSON
    /// escapes them too and parses back to the exact bytes.
    func testTextFromTracedProcessesCannotDriveTheTerminal() throws {
        try requireKernel()
        let hostileName = "\u{1B}]0;pw\u{07}\u{1B}[2J"  // sets the window title, clears the screen
        let marker = "ebpf-escape-\(UUID().uuidString.prefix(8))"
        let path = "/tmp/\(marker)\n999.000000 forged\u{7F}\u{9B}31m"
        for format in ["table", "json"] {
            let run = try start(["openat", "--pid", String(getpid()), "--format", format])
            try runOnThread(named: hostileName) {
                close(open(path, O_CREAT | O_WRONLY, 0o600))
                unlink(path)
            }
            usleep(200_000)
            let (termination, lines, stderr) = finish(run, signal: SIGINT)
            XCTAssertEqual(termination, .exited(0), stderr)
            for line in lines {
                let controls = line.unicodeScalars.filter { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) }
                XCTAssertTrue(controls.isEmpty, "\(format): raw control characters in \(line.debugDescription)")
            }
            XCTAssertFalse(lines.contains { $0.hasPrefix("999.000000") }, "\(format): a forged line")
            let events = lines.filter { $0.contains(marker) }
            XCTAssertEqual(events.count, 1, "\(format): \(lines)")
            let event = try XCTUnwrap(events.first)
            if format == "table" {
                XCTAssertTrue(event.contains(#"\x1b]0;pw\x07\x1b[2J"#), event)
                XCTAssertTrue(event.contains(#"\n999.000000 forged\x7f\u{9b}31m"#), event)
            } else {
                let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(event.utf8)) as? [String: Any])
                XCTAssertEqual(object["comm"] as? String, hostileName)
                XCTAssertEqual((object["fields"] as? [String: Any])?["filename"] as? String, path)
            }
        }
    }

    /// Runs `body` on a new thread whose kernel name (`comm`) is `name`, and waits for it.
    private func runOnThread(named name: String, _ body: @escaping @Sendable () -> Void) throws {
        let finished = DispatchSemaphore(value: 0)
        let written = Locked<Int>(-1)
        Thread {
            // What prctl(PR_SET_NAME) does, through procfs: Swift imports neither prctl
            // nor pthread_setname_np.
            let fd = open("/proc/thread-self/comm", O_WRONLY)
            written.withLock { $0 = write(fd, name, name.utf8.count) }
            close(fd)
            body()
            finished.signal()
        }.start()
        XCTAssertEqual(finished.wait(timeout: .now() + 10), .success)
        XCTAssertEqual(written.withLock { $0 }, name.utf8.count, "the thread's name")
    }

    /// `--count-by`: counted in the kernel, printed at exit as a table, exactly.
    func testCountByAFieldPrintsExactCountsAtExit() throws {
        try requireKernel()
        let run = try start(["fchdir", "--count-by", "fd", "--tid", String(ThisProcess.tid)])
        for _ in 0..<3 { XCTAssertEqual(fchdir(900_051), -1) }
        for _ in 0..<2 { XCTAssertEqual(fchdir(900_052), -1) }
        let (termination, lines, stderr) = finish(run, signal: SIGINT)
        XCTAssertEqual(termination, .exited(0), stderr)
        let title = try XCTUnwrap(lines.firstIndex { $0.hasSuffix("] syscalls:sys_enter_fchdir") }, "\(lines)")
        XCTAssertEqual(Array(lines[(title + 1)...(title + 3)]), ["fd      count", "900051      3", "900052      2"])
        XCTAssertTrue(lines.contains("syscalls:sys_enter_fchdir        5       0"), "the summary: \(lines)")
        XCTAssertTrue(stderr.contains("counting by fd"), stderr)
    }

    /// `--cgroup` keeps a cgroup's events and its children's; JSON lines carry each event's
    /// cgroup path, and `--count-by cgroup` names its keys by path.
    func testCgroupFilterAndCountByCgroup() throws {
        try requireKernel()
        let scene = try CgroupScene(name: "ebpf-trace-test-\(getpid())")
        defer { scene.end() }
        let (parent, child, callers) = (scene.parent, scene.child, scene.callers)
        let events = try start(["fchdir", "--cgroup", parent.path, "--format", "json"])
        let counts = try start(["fchdir", "--count-by", "cgroup", "--cgroup", parent.relative, "--format", "json"])
        scene.run()

        let (eventsEnded, lines, eventsError) = finish(events, signal: SIGINT)
        XCTAssertEqual(eventsEnded, .exited(0), eventsError)
        let objects = try lines.map {
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        let byPID = Dictionary(grouping: objects) { $0["pid"] as? Int ?? 0 }
        XCTAssertEqual(objects.count, 50, "the parent's and the worker's calls, not the outsider's")
        XCTAssertEqual(byPID[Int(callers[0].pid)]?.count, 30)
        XCTAssertEqual(byPID[Int(callers[1].pid)]?.count, 20)
        XCTAssertEqual(Set(byPID[Int(callers[0].pid)]?.compactMap { $0["cgroup"] as? String } ?? []), [parent.relative])
        XCTAssertEqual(Set(byPID[Int(callers[1].pid)]?.compactMap { $0["cgroup"] as? String } ?? []), [child.relative])
        let workerID = try Cgroup(path: child.path).id
        XCTAssertEqual(
            Set(byPID[Int(callers[1].pid)]?.compactMap { ($0["cgroup_id"] as? NSNumber)?.uint64Value } ?? []),
            [workerID])

        let (countsEnded, countLines, countsError) = finish(counts, signal: SIGINT)
        XCTAssertEqual(countsEnded, .exited(0), countsError)
        XCTAssertEqual(countLines.count, 1, "one line at exit: \(countLines)")
        let object = try XCTUnwrap(
            JSONSerialization.jsonObject(with: Data((countLines.first ?? "").utf8)) as? [String: Any], "\(countLines)")
        let entries = try XCTUnwrap(object["entries"] as? [[String: Any]])
        let byCgroup = Dictionary(
            uniqueKeysWithValues: entries.map { ($0["cgroup"] as? String ?? "", $0["count"] as? Int ?? 0) })
        XCTAssertEqual(byCgroup, [parent.relative: 30, child.relative: 20])
    }

    /// In a mount namespace whose only cgroup2 mount is a bind mount of the test's cgroup
    /// (mountinfo's root field is the cgroup's path, as in a container), `--cgroup` still
    /// takes the path from the hierarchy's root, and the counts come out under those paths.
    func testCgroupPathsThroughAMountOfASubtree() throws {
        try requireKernel()
        let scene = try CgroupScene(name: "ebpf-trace-subtree-\(getpid())")
        defer { scene.end() }
        let (parent, child) = (scene.parent, scene.child)
        let subtree = NSTemporaryDirectory() + "ebpf-cgroup-subtree-\(getpid())"
        XCTAssertEqual(mkdir(subtree, 0o700), 0)
        defer { rmdir(subtree) }
        // unshare(1) makes the namespace's mounts private: nothing reaches the host's.
        let run = try ChildProcess(
            "/usr/bin/unshare",
            [
                "--mount", "/bin/bash", "-c",
                // Every other cgroup2 mount goes: the library takes the first it finds.
                "mount --bind \"$1\" \"$2\" && for m in $(findmnt -rn -t cgroup2 -o TARGET); do [ \"$m\" = \"$2\" ] || umount -l \"$m\"; done && exec \"${@:3}\"",
                "bash", parent.path, subtree, try tracer.path, "fchdir", "--count-by", "cgroup", "--cgroup",
                parent.relative, "--format", "json",
            ])
        XCTAssertTrue(
            run.waitForOutput("tracing ", onStandardError: true, timeout: childReadyTimeout), run.standardError)
        scene.run()

        let (ended, lines, error) = finish(run, signal: SIGINT)
        XCTAssertEqual(ended, .exited(0), error)
        let object = try XCTUnwrap(
            JSONSerialization.jsonObject(with: Data((lines.first ?? "").utf8)) as? [String: Any], "\(lines)")
        let entries = try XCTUnwrap(object["entries"] as? [[String: Any]])
        let byCgroup = Dictionary(
            uniqueKeysWithValues: entries.map { ($0["cgroup"] as? String ?? "", $0["count"] as? Int ?? 0) })
        XCTAssertEqual(byCgroup, [parent.relative: 30, child.relative: 20])
    }

    /// `--interval` with JSON: each interval afresh, every event in exactly one of them.
    func testCountIntervalsInJSONAddUpToEveryEvent() throws {
        try requireKernel()
        let run = try start([
            "fchdir", "--count-by", "fd", "--sum", "fd", "--tid", String(ThisProcess.tid), "--interval", "0.05",
            "--format", "json",
        ])
        // Half the calls, then once an interval with some of them is out, the other half:
        // those are in a later interval.
        for _ in 0..<20 { XCTAssertEqual(fchdir(900_061), -1) }
        XCTAssertTrue(run.waitForOutput("\"count\":", timeout: eventTimeout), run.standardOutput)
        for _ in 0..<20 { XCTAssertEqual(fchdir(900_061), -1) }
        let (termination, lines, stderr) = finish(run, signal: SIGTERM)
        XCTAssertEqual(termination, .exited(0), stderr)
        var total = 0
        for line in lines {
            let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], line)
            XCTAssertEqual(object["event"] as? String, "syscalls:sys_enter_fchdir")
            for entry in try XCTUnwrap(object["entries"] as? [[String: Any]]) {
                XCTAssertEqual(entry["fd"] as? Int, 900_061)
                let count = try XCTUnwrap(entry["count"] as? Int)
                XCTAssertEqual(entry["sum"] as? Int, 900_061 * count)
                XCTAssertEqual(entry["min"] as? Int, 900_061)
                total += count
            }
        }
        XCTAssertEqual(total, 40, "\(lines)")
        XCTAssertGreaterThanOrEqual(lines.filter { $0.contains("\"count\":") }.count, 2, "several intervals")
        XCTAssertTrue(stderr.contains("syscalls:sys_enter_fchdir        40      0"), stderr)
    }

    /// `--duration` and `--interval` count from when the probes were attached, not from the
    /// process start: with the compile cache off, clang's start falls before both, and each
    /// interval's `elapsed_s` is at least its tick on the schedule asked for.
    func testTheDurationCountsFromWhenTracingBegan() throws {
        try requireKernel()
        func elapsedSeconds(_ options: [String]) throws -> [Double] {
            let run = try ChildProcess(
                try tracer.path,
                ["fchdir", "--count-by", "fd", "--tid", String(ThisProcess.tid), "--format", "json"] + options,
                environment: ["EBPF_COMPILE_CACHE": "off"])
            XCTAssertEqual(run.wait(), .exited(0), run.standardError)
            return try run.standardOutput.split(separator: "\n").map { line in
                let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
                return try XCTUnwrap(object["elapsed_s"] as? Double, "\(line)")
            }
        }
        // Without intervals, one table at the end.
        let whole = try elapsedSeconds(["--duration", "0.5"])
        XCTAssertEqual(whole.count, 1, "\(whole)")
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(whole.first), 0.5)
        // Ticks at 0.2 and 0.4 s, each skipped, never printed, if a stall let it pass (both,
        // after a stall of 0.4 s); the end's table is left out when it is empty, as here (no
        // process 1 calls fchdir). That ticks print is tested by testCountIntervalsInJSONAddUpToEveryEvent.
        let ticks = try elapsedSeconds(["--interval", "0.2", "--duration", "0.5"])
        XCTAssertLessThanOrEqual(ticks.count, 2, "\(ticks)")
        for (tick, seconds) in ticks.enumerated() {
            XCTAssertGreaterThanOrEqual(seconds, 0.2 * Double(tick + 1), "\(ticks)")
        }
    }

    /// `--latency`: each syscall's entry-to-exit time in a log2 histogram; a 20 ms sleep
    /// lands in a bucket no lower than 2^24 ns (16.8 ms).
    func testLatencyHistogramInJSON() throws {
        try requireKernel()
        // A thread of its own sleeps: this one sleeps between polls while the tracer starts.
        let tid = Locked<Int32>(0)
        let go = DispatchSemaphore(value: 0)
        let slept = DispatchSemaphore(value: 0)
        Thread {
            tid.withLock { $0 = ThisProcess.tid }
            go.wait()
            var request = timespec(tv_sec: 0, tv_nsec: 20_000_000)
            for _ in 0..<2 { _ = clock_nanosleep(CLOCK_MONOTONIC, 0, &request, nil) }
            slept.signal()
        }.start()
        XCTAssertTrue(waitUntil { tid.withLock { $0 } != 0 })
        let sleeper = tid.withLock { $0 }
        let run = try start([
            "clock_nanosleep", "--latency", "--count-by", "tid", "--tid", String(sleeper), "--format", "json",
        ])
        go.signal()
        XCTAssertEqual(slept.wait(timeout: .now() + 60), .success)
        let (termination, lines, stderr) = finish(run, signal: SIGINT)
        XCTAssertEqual(termination, .exited(0), stderr)
        XCTAssertEqual(lines.count, 1, "one line at exit: \(lines)")
        let object = try XCTUnwrap(
            JSONSerialization.jsonObject(with: Data((lines.first ?? "").utf8)) as? [String: Any], "\(lines)")
        let entries = try XCTUnwrap(object["entries"] as? [[String: Any]])
        XCTAssertEqual(entries.count, 1)
        XCTAssertEqual(entries.first?["tid"] as? Int, Int(sleeper))
        XCTAssertEqual(entries.first?["count"] as? Int, 2)
        let buckets = try XCTUnwrap(entries.first?["buckets"] as? [[Int]])
        XCTAssertEqual(buckets.map { $0[2] }.reduce(0, +), 2)
        XCTAssertTrue(buckets.allSatisfy { $0[0] >= 1 << 24 }, "\(buckets)")
        XCTAssertTrue(stderr.contains("a histogram of latency by tid"), stderr)
    }

    /// Two threads pinned to different CPUs take turns calling lseek (fd 900100, 900101, …):
    /// the polling thread hands over one CPU's ring after the other, yet the lines come out
    /// in the order the calls happened. The lines wait up to 10 s for earlier events (the
    /// default is 50 ms), longer than the test runs even under emulation, so no event can
    /// come too late to be ordered; without ordering, each CPU's calls come out together.
    func testEventsOfTwoCPUsArePrintedInTheOrderTheyHappened() throws {
        try requireKernel()
        XCTAssertGreaterThanOrEqual(sysconf(Int32(_SC_NPROCESSORS_ONLN)), 2, "the test needs two CPUs")
        let run = try start(["lseek", "--pid", String(getpid()), "--format", "json", "--order-delay", "10000"])
        let calls = 20
        let turns = [DispatchSemaphore(value: 0), DispatchSemaphore(value: 0)]
        let finished = DispatchSemaphore(value: 0)
        for side in 0..<2 {
            Thread {
                CPUAffinity.pinCallingThread(to: side)
                for call in stride(from: side, to: calls, by: 2) {
                    turns[side].wait()
                    _ = lseek(Int32(900_100 + call), 0, SEEK_SET)
                    turns[1 - side].signal()
                }
                finished.signal()
            }.start()
        }
        turns[0].signal()
        for _ in 0..<2 { XCTAssertEqual(finished.wait(timeout: .now() + 60), .success) }
        let (termination, lines, stderr) = finish(run, signal: SIGINT)
        XCTAssertEqual(termination, .exited(0), stderr)

        let events = try lines.map { line in
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], line)
        }.filter { (($0["fields"] as? [String: Any])?["fd"] as? Int ?? 0) >= 900_100 }
        XCTAssertEqual(
            events.map { ($0["fields"] as? [String: Any])?["fd"] as? Int ?? 0 }, Array(900_100..<900_100 + calls),
            "in the order the calls were made")
        XCTAssertEqual(
            events.map { $0["cpu"] as? Int ?? -1 }, (0..<calls).map { $0 % 2 }, "made on CPU 0 and 1 in turn")
        let timestamps = events.map { $0["timestamp_ns"] as? Int ?? 0 }
        XCTAssertEqual(timestamps, timestamps.sorted())
    }

    /// `--list-usdt` and `usdt:BINARY:provider:name` events: the fixture's probes, then
    /// each firing with its arguments, the third of `plain` as a string.
    func testUSDTProbesListedAndTraced() throws {
        try requireKernel()
        let path = try USDTFixture.path.get()
        let list = try ChildProcess(try tracer.path, ["--list-usdt", path])
        XCTAssertEqual(list.wait(), .exited(0), list.standardError)
        // The arguments as this machine's compiler placed them, read from the notes by readelf.
        let notes = try USDTFixture.notes(path)
        func line(_ name: String, _ suffix: String = "") throws -> String {
            let arguments = try XCTUnwrap(notes[name]).arguments.map(USDTFixture.registerNamed)
            return "usdt:\(path):ebpftest:\(name)  " + arguments.joined(separator: " ") + suffix
        }
        XCTAssertEqual(
            list.standardOutput.split(separator: "\n").map(String.init).sorted(),
            [try line("gated", "  (semaphore)"), try line("kinds"), try line("plain")])

        let fixture = try USDTFixture()
        defer { fixture.stop() }
        let run = try start([
            "usdt:\(path):ebpftest:plain", "usdt:\(path):ebpftest:gated", "--strings", "3", "--pid",
            String(fixture.pid), "--format", "json",
        ])
        for _ in 1...2 { XCTAssertEqual(fixture.fire(), 1) }
        XCTAssertTrue(run.waitForOutput("\"arg3\":\"even\"", timeout: eventTimeout), run.standardOutput)
        let (termination, lines, stderr) = finish(run, signal: SIGINT)
        XCTAssertEqual(termination, .exited(0), stderr)
        let events = try lines.map { line in
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], line)
        }
        XCTAssertEqual(
            events.map { $0["event"] as? String },
            ["plain", "gated", "plain", "gated"].map { "usdt:\(path):ebpftest:\($0)" })
        let fields = events.map { $0["fields"] as? [String: Any] ?? [:] }
        XCTAssertEqual(fields.map { $0["arg1"] as? Int }, [1, 1, 2, 2])
        XCTAssertEqual(fields.map { $0["arg2"] as? Int }, [-1000, 7, -2000, 14])
        XCTAssertEqual(fields.map { $0["arg3"] as? String }, ["odd", nil, "even", nil])
    }

    /// `execve`'s argv as a JSON array of strings, bounded by `--max-args` and `--arg-size`;
    /// its envp only with `--envp`, as execsnoop.
    func testExecveArgumentsAsStrings() throws {
        try requireKernel()
        for printsEnvironment in [false, true] {
            let run = try start(
                ["execve", "--format", "json", "--max-args", "3", "--arg-size", "8"]
                    + (printsEnvironment ? ["--envp"] : []))
            let child = spawnAndWait(["/bin/true", "first", "second arg", "third"], environment: ["EBPF_ENV=1"])
            XCTAssertTrue(run.waitForOutput("\"pid\":\(child),", timeout: eventTimeout), run.standardOutput)
            let (termination, lines, stderr) = finish(run, signal: SIGINT)
            XCTAssertEqual(termination, .exited(0), stderr)
            let event = try XCTUnwrap(
                lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
                    .first { $0["pid"] as? Int == Int(child) })
            let fields = try XCTUnwrap(event["fields"] as? [String: Any])
            XCTAssertEqual(fields["argv"] as? [String], ["/bin/tr", "first", "second "], "3 strings of 7 bytes")
            XCTAssertEqual(fields["envp"] as? [String], printsEnvironment ? ["EBPF_EN"] : nil)
        }
    }

    /// `--histogram FIELD --linear MIN,MAX,STEP`: a thread's lseek offsets in exact steps.
    func testLinearHistogramInJSON() throws {
        try requireKernel()
        let tid = Locked<Int32>(0)
        let go = DispatchSemaphore(value: 0)
        let done = DispatchSemaphore(value: 0)
        Thread {
            tid.withLock { $0 = ThisProcess.tid }
            go.wait()
            for offset: off_t in [0, 9, 10, 35, 40, -1] { _ = lseek(900_071, offset, SEEK_SET) }
            done.signal()
        }.start()
        XCTAssertTrue(waitUntil { tid.withLock { $0 } != 0 })
        let run = try start([
            "lseek", "--histogram", "offset", "--linear", "0,40,10", "--tid", String(tid.withLock { $0 }),
            "--format", "json",
        ])
        go.signal()
        XCTAssertEqual(done.wait(timeout: .now() + 60), .success)
        let (termination, lines, stderr) = finish(run, signal: SIGINT)
        XCTAssertEqual(termination, .exited(0), stderr)
        let object = try XCTUnwrap(
            JSONSerialization.jsonObject(with: Data((lines.first ?? "").utf8)) as? [String: Any], "\(lines)")
        let entry = try XCTUnwrap((object["entries"] as? [[String: Any]])?.first)
        XCTAssertEqual(entry["count"] as? Int, 6)
        XCTAssertEqual(entry["buckets"] as? [[Int]], [[0, 9, 2], [10, 19, 1], [30, 39, 1]])
        XCTAssertEqual(entry["below_range"] as? Int, 1)
        XCTAssertEqual(entry["above_range"] as? Int, 1)
    }

    /// `--list-functions BINARY:PATTERN`: the test binary's Swift and C++ fixture functions,
    /// each as the uprobe that names it and its mangled symbol, which `nm` lists.
    func testFunctionsListedByPattern() throws {
        try requireKernel()
        let binary = SwiftFunctionFixture.binary
        let (termination, text) = try runToCompletion(
            try tracer.path, ["--list-functions", "\(binary):SwiftFunctionFixture.Calculator.*"])
        XCTAssertEqual(termination, .exited(0), text)
        let lines = text.split(separator: "\n").map { $0.split(separator: "  ").map(String.init) }
        let (_, symbols) = try runToCompletion("/usr/bin/nm", ["--defined-only", binary])
        let defined = Set(symbols.split(separator: "\n").compactMap { $0.split(separator: " ").last.map(String.init) })
        for line in lines {
            XCTAssertEqual(line.count, 2, "a name and its symbol: \(line)")
            XCTAssertTrue(defined.contains(line.last ?? ""), "nm lists \(line.last ?? "")")
        }
        for method in ["add(_:to:)", "add(_:)", "scaled(by:)"] {
            XCTAssertTrue(
                lines.contains { $0[0] == "uprobe:\(binary):EBPFTests.SwiftFunctionFixture.Calculator.\(method)" },
                "\(method) listed: \(text)")
        }
        XCTAssertTrue(
            lines.contains { $0[0] == "uprobe:\(binary):static EBPFTests.SwiftFunctionFixture.Calculator.make(base:)" },
            "a static method is named as such: \(text)")

        // C++ functions by their demangled names, each with its symbol; `::` does not end
        // the binary.
        let (cxxTermination, cxxText) = try runToCompletion(
            try tracer.path, ["--list-functions", "\(binary):ebpf_fixture::Counter::*"])
        XCTAssertEqual(cxxTermination, .exited(0), cxxText)
        XCTAssertEqual(
            cxxText.split(separator: "\n").sorted(),
            [
                "uprobe:\(binary):ebpf_fixture::Counter::add(long) const  _ZNK12ebpf_fixture7Counter3addEl",
                "uprobe:\(binary):ebpf_fixture::Counter::add(long, long) const  _ZNK12ebpf_fixture7Counter3addEll",
                "uprobe:\(binary):ebpf_fixture::Counter::make(long)  _ZN12ebpf_fixture7Counter4makeEl",
            ])
    }

    /// `profile --pid P --duration D --flame-graph F` on a shell spinning in a loop: every
    /// folded line is that process's (its name first) with a positive count, and the flame
    /// graph is written.
    func testProfileOfASpinningProcessPrintsFoldedStacksAndDrawsThem() throws {
        try requireKernel()
        let spinner = try ChildProcess("/bin/sh", ["-c", "while :; do :; done"])
        defer {
            spinner.signal(SIGKILL)
            _ = spinner.wait()
        }
        let svg = FileManager.default.temporaryDirectory.appendingPathComponent("ebpf-trace-\(getpid()).svg").path
        defer { unlink(svg) }
        let run = try ChildProcess(
            try tracer.path,
            ["profile", "--frequency", "199", "--pid", "\(spinner.pid)", "--duration", "1", "--flame-graph", svg])
        XCTAssertEqual(run.wait(), .exited(0), run.standardError)
        let lines = run.standardOutput.split(separator: "\n")
        XCTAssertFalse(lines.isEmpty, run.standardError)
        var total = 0
        for line in lines {
            let parts = line.split(separator: " ")
            let count = try XCTUnwrap(Int(try XCTUnwrap(parts.last)), String(line))
            XCTAssertGreaterThan(count, 0)
            total += count
            let frames = line.dropLast(parts.last?.count ?? 0).dropLast()
            XCTAssertEqual(frames.split(separator: ";").first, "sh", "only the spinner's samples: \(line)")
        }
        XCTAssertGreaterThanOrEqual(total, 20, run.standardOutput)
        XCTAssertTrue(
            run.standardError.contains("wrote a flame graph of \(total) samples to \(svg)"), run.standardError)
        let drawn = try String(contentsOfFile: svg, encoding: .utf8)
        XCTAssertTrue(drawn.contains("<svg"), String(drawn.prefix(200)))
        XCTAssertTrue(drawn.contains("sh (\(total) samples, 100.00%)"), "the process's frame spans them all")
    }

    func testBadArgumentsFailWithAMessage() throws {
        try requireKernel()
        // ArgumentParser: 1 for an error the command throws, 64 (EX_USAGE) for bad options.
        for (arguments, expected, status) in [
            (["bind; }"], "the syscall name \"bind; }\" contains ';'", 64),
            (["no_such_syscall"], "no syscall named", 1),
            (["uprobe:/bin/sh"], "a uprobe is uprobe:BINARY:FUNCTION", 64),
            (["bind", "--format", "xml"], "--format", 64),
            (["openat", "--count-by", "nosuch"], "\"nosuch\" is not a field of syscalls:sys_enter_openat", 1),
            (["openat", "--sum", "filename"], "only an integer field has a sum", 1),
            (["openat", "--top", "3"], "--interval and --top go with --count-by", 64),
            (["read", "--sum", "count", "--latency"], "choose one of --sum, --histogram and --latency", 64),
            (["sched:sched_switch", "--latency"], "--latency measures from an entry to its return", 64),
            (["lseek", "--linear", "0,10,1"], "--linear goes with --histogram FIELD", 64),
            (["openat", "--flame-graph", "x.svg"], "--frequency and --flame-graph go with profile", 64),
            (["profile", "--frequency", "0"], "--frequency must be positive", 64),
            (["lseek", "--order-delay=-1"], "--order-delay must be between 0 and 60000 ms", 64),
            (["lseek", "--duration", "nan"], "--duration must be a positive number of seconds", 64),
            (["lseek", "--count-by", "fd", "--interval", "nan"], "--interval must be at least 0.001 seconds", 64),
            (["lseek", "--count-by", "fd", "--interval", "1e-20"], "--interval must be at least 0.001 seconds", 64),
            (["lseek", "--histogram", "offset", "--linear", "0,10"], "--linear takes MIN,MAX,STEP", 64),
            (["lseek", "--histogram", "offset", "--linear", "0,10,3"], "max - min must be a multiple of step", 1),
        ] {
            let (termination, text) = try runToCompletion(try tracer.path, arguments)
            XCTAssertEqual(termination, .exited(Int32(status)), "\(arguments): \(text)")
            XCTAssertTrue(text.contains(expected), "\(arguments): \(text)")
        }
    }
}
