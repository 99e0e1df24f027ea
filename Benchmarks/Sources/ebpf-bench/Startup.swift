// Start-up, side by side: how long each tracer takes from its start to its first event, and
// how much memory it holds once running, for 1, 4, 12 and 40 syscall probes.
import EBPF

#if canImport(Glibc)
import Glibc
#endif

/// A tracer the start-up benchmark starts: its command line for some syscalls and a pid, and
/// how a line of its stdout that reports an event looks.
struct Tracer: Sendable {
    let label: String
    /// Added to the tracer's environment.
    var environment: [String] = []
    /// Whether one unmeasured run comes first (to fill a cache).
    var warmUp = false
    let command: @Sendable (_ syscalls: [String], _ pid: pid_t) -> [String]
    let isEvent: @Sendable (String) -> Bool

    static let coldLabel = "ebpf-trace, cold"
    static let compiledLabel = "ebpf-trace, clang, cold"
    static let cachedLabel = "ebpf-trace, clang, cached"

    /// The library's command-line tracer, JSON Lines on stdout, as a user runs it: its probes
    /// emitted without clang, no compile cache.
    static func ebpfTrace(_ path: String) -> Tracer {
        Tracer(label: coldLabel, environment: ["EBPF_COMPILE_CACHE=off"]) { syscalls, pid in
            [path, "--format", "json", "--pid", String(pid)] + syscalls
        } isEvent: {
            $0.hasPrefix("{")
        }
    }

    /// The tracer with its probes compiled by clang (`EBPF_COMPILE_PROBES=1`): compiling each
    /// start (no cache), or, with `cache`, loading what a first run kept there.
    static func ebpfTraceCompiled(_ path: String, cache: String?) -> Tracer {
        Tracer(
            label: cache == nil ? compiledLabel : cachedLabel,
            environment: ["EBPF_COMPILE_PROBES=1", "EBPF_COMPILE_CACHE=\(cache ?? "off")"], warmUp: cache != nil
        ) { syscalls, pid in
            [path, "--format", "json", "--pid", String(pid)] + syscalls
        } isEvent: {
            $0.hasPrefix("{")
        }
    }

    /// bcc Python compiling the same tracepoints in one program (baselines/bcc_startup.py).
    static func bccPython(baselines: String) -> Tracer {
        Tracer(label: "bcc Python, one program") { syscalls, pid in
            ["/usr/bin/python3", "\(baselines)/bcc_startup.py", String(pid)] + syscalls
        } isEvent: {
            $0.hasPrefix("event ")
        }
    }

    /// bpftrace with one action on every tracepoint, its output line-buffered.
    static let bpftrace = Tracer(label: "bpftrace") { syscalls, pid in
        let probes = syscalls.map { "tracepoint:syscalls:sys_enter_\($0)" }.joined(separator: ",")
        return [
            "/usr/bin/bpftrace", "-B", "line", "-e", "\(probes) /pid == \(pid)/ { printf(\"event %s\\n\", probe); }",
        ]
    } isEvent: {
        $0.hasPrefix("event ")
    }
}

struct StartupMeasurement {
    /// From starting the tracer to reading its first event's line.
    let secondsToFirstEvent: Double
    /// Resident memory half a second after the first event.
    let steadyRSS: Int
    /// Peak resident memory over the tracer's life.
    let peakRSS: Int
}

enum Startup {
    static let probeCounts = [1, 4, 12, 40]
    /// The load's syscall, traced by every tracer and issued once per millisecond.
    static let trigger = "dup2"

    /// `count` syscalls with entry tracepoints on this kernel, the trigger first, then the
    /// others in name order.
    static func syscalls(_ count: Int) throws -> [String] {
        let directory = "/sys/kernel/tracing/events/syscalls"
        guard let stream = opendir(directory) else { throw BenchError("cannot list \(directory)") }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name.hasPrefix("sys_enter_") { names.append(String(name.dropFirst("sys_enter_".count))) }
        }
        let others = names.filter { $0 != trigger }.sorted()
        guard others.count >= count - 1 else { throw BenchError("only \(others.count + 1) syscall tracepoints") }
        return [trigger] + others.prefix(count - 1)
    }

    /// Starts `tracer` on `syscalls`, waits for its first event from the load `pid`, reads its
    /// memory, then stops it with SIGTERM (bcc Python ignores a SIGINT that lands in its
    /// callback).
    static func measure(_ tracer: Tracer, syscalls: [String], pid: pid_t) throws -> StartupMeasurement {
        let start = KernelClock.now()
        let child = try Child(tracer.command(syscalls, pid), environment: tracer.environment, quiet: true)
        var first: UInt64?
        while let line = child.readLine() {
            if tracer.isEvent(line) {
                first = KernelClock.now() - start
                break
            }
        }
        guard let first else {
            _ = child.wait()
            throw BenchError("\(tracer.label) ended before its first event")
        }
        usleep(500_000)
        let steady = residentBytes(of: child.pid)
        kill(child.pid, SIGTERM)
        while child.readLine() != nil {}
        let (_, _, peak) = child.wait()
        return StartupMeasurement(secondsToFirstEvent: Double(first) / 1e9, steadyRSS: steady, peakRSS: peak)
    }

    /// VmRSS of process `pid`, in bytes.
    static func residentBytes(of pid: pid_t) -> Int {
        let fd = open("/proc/\(pid)/status", O_RDONLY)
        guard fd >= 0 else { return 0 }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: 8192)
        let count = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        let text = String(decoding: bytes.prefix(max(0, count)), as: UTF8.self)
        let line = text.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
    }

    /// Runs every tracer for every probe count (the median of `repeats` runs each) against a
    /// load issuing the trigger syscall every millisecond; prints the table and the targets.
    static func run(tracers: [Tracer], repeats: Int, baselines: String) throws -> [Report.Target] {
        let load = try Child(["\(baselines)/bin/load", trigger, "1000000000", "1000"])
        defer {
            kill(load.pid, SIGKILL)
            _ = load.wait()
        }
        guard let pidLine = load.readLine(), let pid = pid_t(pidLine) else {
            throw BenchError("the load did not start")
        }
        load.write("g")

        var results: [String: [Int: StartupMeasurement]] = [:]
        for count in probeCounts {
            let syscalls = try syscalls(count)
            for tracer in tracers where tracer.warmUp { _ = try measure(tracer, syscalls: syscalls, pid: pid) }
            // Taken in turns, so a slow stretch of the machine falls on every tracer alike.
            var runs: [String: [StartupMeasurement]] = [:]
            for _ in 0..<repeats {
                for tracer in tracers {
                    runs[tracer.label, default: []].append(try measure(tracer, syscalls: syscalls, pid: pid))
                }
            }
            for (label, measured) in runs {
                let sorted = measured.sorted { $0.secondsToFirstEvent < $1.secondsToFirstEvent }
                results[label, default: [:]][count] = sorted[sorted.count / 2]
            }
            warn("  start-up, \(count) probes: done")
        }

        emit("")
        emit(
            "### Start-up: time to first event and memory, \(probeCounts.map(String.init).joined(separator: ", ")) syscall probes"
        )
        emit("Each tracer traces `\(trigger)` and the first other syscalls by name, filtered by the pid of a load")
        emit("issuing `\(trigger)` every millisecond; time from starting the tracer to reading its first event")
        emit("(median of \(repeats)), resident memory 0.5 s later, and the peak. Ratios are to bcc Python.")
        emit("")
        emit(
            "| tracer | probes | first event s | steady RSS MB | peak RSS MB | ×bcc Python time | ×bcc Python steady RSS |"
        )
        emit("|---|---:|---:|---:|---:|---:|---:|")
        let python = results[Tracer.bccPython(baselines: baselines).label] ?? [:]
        for count in probeCounts {
            for tracer in tracers {
                guard let m = results[tracer.label]?[count] else { continue }
                let reference = python[count]
                emit(
                    "| \(tracer.label) | \(count) | \(Report.number(m.secondsToFirstEvent, 2)) | \(Report.number(Double(m.steadyRSS) / 1_048_576, 1)) | \(Report.number(Double(m.peakRSS) / 1_048_576, 1)) | \(Report.ratio(m.secondsToFirstEvent, reference?.secondsToFirstEvent ?? 0)) | \(Report.ratio(Double(m.steadyRSS), Double(reference?.steadyRSS ?? 0))) |"
                )
            }
        }

        let cold = results[Tracer.coldLabel] ?? [:]
        let cached = results[Tracer.cachedLabel] ?? [:]
        guard let cold1 = cold[1], let cold12 = cold[12], let cold40 = cold[40], let python12 = python[12] else {
            return []
        }
        func worst(_ ratio: (Int) -> Double?) -> Double { probeCounts.compactMap(ratio).max() ?? .infinity }
        let worstSteady = worst { count in
            guard let m = cold[count], let p = python[count] else { return nil }
            return Double(m.steadyRSS) / Double(max(1, p.steadyRSS))
        }
        let worstCachedTime = worst { count in
            guard let m = cached[count], let p = python[count] else { return nil }
            return m.secondsToFirstEvent / p.secondsToFirstEvent
        }
        let worstCachedPeak = probeCounts.compactMap { cached[$0]?.peakRSS }.max() ?? Int.max
        return [
            .init(
                statement: "start-up: 12 probes cold ≤ 0.5 × bcc Python",
                measured: Report.ratio(cold12.secondsToFirstEvent, python12.secondsToFirstEvent),
                pass: cold12.secondsToFirstEvent <= 0.5 * python12.secondsToFirstEvent),
            .init(
                statement: "start-up: 40 probes cold ≤ 1.3 × 1 probe cold",
                measured: Report.ratio(cold40.secondsToFirstEvent, cold1.secondsToFirstEvent),
                pass: cold40.secondsToFirstEvent <= 1.3 * cold1.secondsToFirstEvent),
            .init(
                statement: "start-up: cached ≤ 0.1 × bcc Python (any count)",
                measured: Report.number(worstCachedTime, 2) + "× at worst",
                pass: worstCachedTime <= 0.1),
            .init(
                statement: "start-up: cached peak RSS ≤ 40 MB (no clang in the process)",
                measured: Report.number(Double(worstCachedPeak) / 1_048_576, 1) + " MB at worst",
                pass: worstCachedPeak <= 40 * 1_048_576),
            .init(
                statement: "start-up: steady RSS after a cold start ≤ 0.5 × bcc Python (any count)",
                measured: Report.number(worstSteady, 2) + "× at worst",
                pass: worstSteady <= 0.5),
        ]
    }
}
