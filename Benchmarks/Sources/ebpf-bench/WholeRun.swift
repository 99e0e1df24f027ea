// Whole runs, side by side: a tracer started with a fixed 0.2 s of tracing, timed from its
// start to its exit, so what is left over the 0.2 s is its start and its stop. For closure
// probes on 1, 12 and 40 syscalls, and for aggregation one-liners, against bpftrace and bcc
// Python; and what a routed syscall dispatcher costs the syscalls it does not trace.
import EBPF

#if canImport(Glibc)
import Glibc
#endif

enum WholeRun {
    /// The tracing time every tracer is asked for.
    static let tracing = 0.2

    /// One command to time.
    struct Command {
        let label: String
        let arguments: [String]
        var environment: [String] = []
        /// Whether to read the process's mappings while it traces (for the compiler library).
        var checksCompiler = false
    }

    struct Timing {
        /// Median seconds from start to exit.
        let seconds: Double
        /// Whether libbcc's compiler library (`libbcc.so`, clang and LLVM) was mapped
        /// 0.1 s into the run; nil when not checked.
        let compilerMapped: Bool?
        /// What is left over the tracing time: the start and the stop.
        var overhead: Double { seconds - WholeRun.tracing }
    }

    /// Runs `command` `repeats` times; the median time, and whether the compiler was mapped in
    /// any run.
    static func time(_ command: Command, repeats: Int) throws -> Timing {
        var times: [Double] = []
        var mapped: Bool?
        for _ in 0..<repeats {
            let start = KernelClock.now()
            let child = try Child(command.arguments, environment: command.environment, quiet: true)
            if command.checksCompiler {
                usleep(100_000)
                let maps = readText("/proc/\(child.pid)/maps")
                mapped = (mapped ?? false) || maps.contains("/libbcc.so") || maps.contains("libLLVM")
            }
            while child.readLine() != nil {}
            let (status, _, _) = child.wait()
            guard status == 0 else { throw BenchError("\(command.label) exited with status \(status)") }
            times.append(Double(KernelClock.now() - start) / 1e9)
        }
        return Timing(seconds: times.sorted()[times.count / 2], compilerMapped: mapped)
    }

    static func readText(_ path: String) -> String {
        String(decoding: (try? SwiftConsumer.readFile(path)) ?? [], as: UTF8.self)
    }

    /// bpftrace running `program` and exiting after the tracing time.
    static func bpftrace(_ label: String, _ program: String) -> Command {
        Command(
            label: label,
            arguments: ["/usr/bin/bpftrace", "-e", "\(program) interval:ms:\(Int(tracing * 1000)) { exit(); }"])
    }

    /// `ebpf-trace` as users run it cold (no compile cache), for the tracing time.
    static func ebpfTrace(_ path: String, _ label: String, _ arguments: [String]) -> Command {
        Command(
            label: label, arguments: [path] + arguments + ["--duration", String(tracing)],
            environment: ["EBPF_COMPILE_CACHE=off"], checksCompiler: true)
    }

    static func run(ebpfTrace path: String, baselines: String, repeats: Int) throws -> [Report.Target] {
        emit("")
        emit("### Whole runs: start, \(tracing) s of tracing, stop")
        emit("Each tracer is started for \(tracing) s of tracing and timed from its start to its exit")
        emit("(median of \(repeats), taking turns); what is left over \(tracing) s is its start and its stop.")
        emit("Closure probes trace syscalls filtered by pid 1; the one-liners aggregate every process's events.")
        emit("The compiler column says whether libbcc's compiler library was mapped 0.1 s into the run.")
        emit("")
        emit("| run | tracer | whole run s | start + stop s | × bpftrace start + stop | compiler mapped |")
        emit("|---|---|---:|---:|---:|---|")

        var targets: [Report.Target] = []
        for count in [1, 12, 40] {
            let syscalls = try Startup.syscalls(count)
            let probes = syscalls.map { "tracepoint:syscalls:sys_enter_\($0)" }.joined(separator: ",")
            let commands = [
                ebpfTrace(path, "ebpf-trace", ["--pid", "1"] + syscalls),
                bpftrace("bpftrace", "\(probes) /pid == 1/ { @[probe] = count(); }"),
            ]
            let timings = try timeInTurns(commands, repeats: repeats)
            report("\(count) closure probes", commands, timings)
            if count == 40 {
                let (ours, theirs) = (timings[0], timings[1])
                targets.append(
                    .init(
                        statement: "40-probe --duration 0.2: start + stop ≤ 0.25 × bpftrace's",
                        measured:
                            "\(Report.number(ours.overhead, 3)) vs \(Report.number(theirs.overhead, 3)) s (\(Report.ratio(ours.overhead, theirs.overhead)))",
                        pass: ours.overhead <= 0.25 * theirs.overhead))
            }
        }
        let oneLiners: [(name: String, ours: [String], bpftrace: String, python: [String])] = [
            (
                "count by comm", ["openat", "--count-by", "comm"],
                "tracepoint:syscalls:sys_enter_openat { @[comm] = count(); }", ["count", "openat"]
            ),
            (
                "log2 histogram", ["read", "--histogram", "count"],
                "tracepoint:syscalls:sys_enter_read { @ = hist(args->count); }", ["hist", "read", "count"]
            ),
        ]
        for oneLiner in oneLiners {
            let commands = [
                ebpfTrace(path, "ebpf-trace", oneLiner.ours),
                bpftrace("bpftrace", oneLiner.bpftrace),
                Command(
                    label: "bcc Python",
                    arguments: ["/usr/bin/python3", "\(baselines)/bcc_aggregate.py", String(tracing)]
                        + oneLiner.python),
            ]
            let timings = try timeInTurns(commands, repeats: repeats)
            report(oneLiner.name, commands, timings)
            let (ours, theirs) = (timings[0], timings[1])
            targets.append(
                .init(
                    statement: "aggregation one-liner (\(oneLiner.name)): start + stop ≤ 0.35 × bpftrace's, no compiler",
                    measured:
                        "\(Report.number(ours.overhead, 3)) vs \(Report.number(theirs.overhead, 3)) s (\(Report.ratio(ours.overhead, theirs.overhead))), compiler \(ours.compilerMapped == true ? "mapped" : "not mapped")",
                    pass: ours.overhead <= 0.35 * theirs.overhead && ours.compilerMapped == false))
        }
        return targets
    }

    /// Every command `repeats` times, in turns, so a slow stretch falls on each alike.
    static func timeInTurns(_ commands: [Command], repeats: Int) throws -> [Timing] {
        var runs = [[Timing]](repeating: [], count: commands.count)
        for _ in 0..<repeats {
            for (index, command) in commands.enumerated() { runs[index].append(try time(command, repeats: 1)) }
        }
        return runs.map { timings in
            let sorted = timings.sorted { $0.seconds < $1.seconds }
            let mapped = timings.compactMap(\.compilerMapped)
            return Timing(seconds: sorted[sorted.count / 2].seconds, compilerMapped: mapped.isEmpty ? nil : mapped.contains(true))
        }
    }

    private static func report(_ run: String, _ commands: [Command], _ timings: [Timing]) {
        let bpftrace = timings[1]
        for (command, timing) in zip(commands, timings) {
            let mapped = timing.compilerMapped.map { $0 ? "yes" : "no" } ?? "–"
            emit(
                "| \(run) | \(command.label) | \(Report.number(timing.seconds, 3)) | \(Report.number(timing.overhead, 3)) | \(Report.ratio(timing.overhead, bpftrace.overhead)) | \(mapped) |"
            )
        }
    }

    /// What a routed dispatcher costs the syscalls it does not trace: the load's `dup2` flat
    /// out with nothing attached, with `ebpf-trace` routing `getsid` (the raw `sys_enter`
    /// dispatcher), and with `getsid` compiled onto its perf tracepoint.
    static func dispatcherCost(ebpfTrace path: String, baselines: String, calls: Int) throws {
        func loadCost() throws -> Double {
            let load = try Child(["\(baselines)/bin/load", "dup2", String(calls)])
            guard load.readLine() != nil else { throw BenchError("the load did not start") }
            load.write("g")
            let cost = values(load.line(startingWith: "ns_per_call") ?? "")["ns_per_call"] ?? .nan
            _ = load.wait()
            return cost
        }
        func costWhile(_ environment: [String]) throws -> Double {
            // The table header on stdout says the probe is attached.
            let tracer = try Child(
                [path, "getsid", "--pid", "1"], environment: environment + ["EBPF_COMPILE_CACHE=off"], quiet: true)
            guard tracer.readLine() != nil else { throw BenchError("ebpf-trace did not start") }
            defer {
                kill(tracer.pid, SIGTERM)
                while tracer.readLine() != nil {}
                _ = tracer.wait()
            }
            return try loadCost()
        }
        let none = try loadCost()
        let routed = try costWhile([])
        let perf = try costWhile(["EBPF_COMPILE_PROBES=1"])
        emit("")
        emit("### What a syscall probe costs the syscalls it does not trace")
        emit("`dup2` flat out, \(calls) calls, while `ebpf-trace getsid` runs (filtered by pid 1), ns per call:")
        emit("")
        emit("| attached | ns per untraced syscall | added |")
        emit("|---|---:|---:|")
        emit("| nothing | \(Report.number(none, 1)) | – |")
        emit("| routed (raw `sys_enter` dispatcher, the default) | \(Report.number(routed, 1)) | \(Report.number(routed - none, 1)) |")
        emit("| perf tracepoint (`EBPF_COMPILE_PROBES=1`) | \(Report.number(perf, 1)) | \(Report.number(perf - none, 1)) |")
    }
}
