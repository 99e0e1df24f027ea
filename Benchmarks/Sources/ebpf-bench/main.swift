// ebpf-bench: event delivery side by side — the library's closure, by-name and typed paths
// against a plain C consumer on libbcc and bcc Python, on the same program and the same load.
//
//   ebpf-bench [--events 200000,2000000] [--sizes 64,520] [--latency-events 30] [--repeats 3] [--baselines DIR]
//              [--ebpf-trace PATH [--startup-repeats 7]]   (PATH adds the start-up comparison)
//   ebpf-bench startup --ebpf-trace PATH [--startup-repeats 7] [--baselines DIR]   (start-up only)
//   ebpf-bench whole-run --ebpf-trace PATH [--whole-run-repeats 5] [--baselines DIR]   (start and stop only)
//   ebpf-bench attach-cost [--calls 200000] [--rounds 5]   (tracepoint, raw tracepoint, kprobe, fentry)
//   ebpf-bench transport [--events 100000] [--repeats 3] [--latency-events 10]   (ring buffer against perf buffers)
//   ebpf-bench uprobe-cost [--calls 1000000] [--rounds 5]   (a Swift function's uprobes, against bpftrace's)
//   ebpf-bench consume ...   (internal: one Swift consumer, run by the harness)
//   ebpf-bench program SYSCALL PID [STRING_SIZE]   (prints the generated program, for profiling by hand)
@_spi(Generator) import EBPF

#if canImport(Glibc)
import Glibc
#endif

let arguments = Array(CommandLine.arguments.dropFirst())
do {
    if arguments.first == "consume" {
        try SwiftConsumer.run(Array(arguments.dropFirst()))
    } else if arguments.first == "attach-cost" {
        try AttachCost.run(arguments)
    } else if arguments.first == "transport" {
        try Transport.run(arguments)
    } else if arguments.first == "uprobe-cost" {
        try UprobeCost.run(arguments)
    } else if arguments.first == "startup" {
        emit(Report.targets(try startupTargets(arguments)))
    } else if arguments.first == "whole-run" {
        emit(Report.targets(try wholeRunTargets(arguments)))
    } else if arguments.first == "program", arguments.count >= 3, let pid = Int32(arguments[2]) {
        // The program every consumer runs, for a syscall, a pid and a string size: for
        // profiling a consumer by hand (`ebpf-bench consume` checks it is the same program).
        let options = arguments.count > 3 ? ProbeOptions(stringSize: Int(arguments[3]) ?? 256) : ProbeOptions()
        emit(
            try EBPFWrapper().program(
                for: .syscall(arguments[1]), filter: ProbeFilter(processID: pid), options: options
            ).text)
    } else {
        try runBenchmark(arguments)
    }
} catch {
    warn("ebpf-bench: \(error)")
    exit(1)
}

func option(_ name: String, in arguments: [String]) -> String? {
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return nil }
    return arguments[index + 1]
}

/// The start-up comparison, when `--ebpf-trace` names the tracer's binary.
func startupTargets(_ arguments: [String]) throws -> [Report.Target] {
    guard let path = option("--ebpf-trace", in: arguments) else { return [] }
    let baselines = option("--baselines", in: arguments) ?? "Benchmarks/baselines"
    // A start's time to its first event varies by a few milliseconds from run to run here
    // (process start, the kernel's verifier): the median of 7 moves less than one of 3.
    let repeats = Int(option("--startup-repeats", in: arguments) ?? "7") ?? 7
    let cache = "/tmp/ebpf-bench-cache-\(getpid())"
    defer { _ = try? Child(["/bin/rm", "-rf", cache]).wait() }
    return try Startup.run(
        tracers: [
            .ebpfTrace(path), .ebpfTraceCompiled(path, cache: nil), .ebpfTraceCompiled(path, cache: cache),
            .bccPython(baselines: baselines), .bpftrace,
        ],
        repeats: max(1, repeats), baselines: baselines)
}

/// Whole runs of 0.2 s (closure probes, aggregation one-liners) and the dispatcher's cost,
/// when `--ebpf-trace` names the tracer's binary.
func wholeRunTargets(_ arguments: [String]) throws -> [Report.Target] {
    guard let path = option("--ebpf-trace", in: arguments) else { return [] }
    let baselines = option("--baselines", in: arguments) ?? "Benchmarks/baselines"
    let repeats = Int(option("--whole-run-repeats", in: arguments) ?? "5") ?? 5
    let targets = try WholeRun.run(ebpfTrace: path, baselines: baselines, repeats: max(1, repeats))
    try WholeRun.dispatcherCost(ebpfTrace: path, baselines: baselines, calls: 2_000_000)
    return targets
}

func runBenchmark(_ arguments: [String]) throws {
    let counts = (option("--events", in: arguments) ?? "200000,2000000").split(separator: ",").compactMap { Int($0) }
    let sizes = (option("--sizes", in: arguments) ?? "64,520").split(separator: ",").compactMap { Int($0) }
    let latencyEvents = Int(option("--latency-events", in: arguments) ?? "30") ?? 30
    let repeats = max(1, Int(option("--repeats", in: arguments) ?? "3") ?? 3)
    let harness = try Harness(baselines: option("--baselines", in: arguments) ?? "Benchmarks/baselines")
    let consumers: [Consumer] = [
        .c(pages: 0, wakeup: 128), .swiftClosure, .swiftBorrowed, .swiftClosurePerf, .swiftByName, .swiftTyped,
        .python(pages: 8, wakeup: 1), .python(pages: 0, wakeup: 128), .c(pages: 8, wakeup: 1), .swiftCount,
    ]
    // The rows the targets compare.
    let repeated: Set<Consumer> = [
        .c(pages: 0, wakeup: 128), .swiftClosure, .swiftBorrowed, .swiftClosurePerf, .swiftByName, .swiftTyped,
        .python(pages: 8, wakeup: 1), .swiftCount,
    ]
    emit("Event delivery, side by side: each consumer runs the same generated program on the same load,")
    emit("a process issuing N syscalls, filtered by its pid in the kernel. Ratios are to the C consumer")
    emit("at the library's defaults (its page count for the record size, a wake-up every 128 records,")
    emit("a 10 ms drain). The closure probe runs that program as the library emits it by default (no")
    emit("clang), its records built in place in a ring buffer (the default transport), each copied into a")
    emit("ProbeEvent; the borrowed row lends each in place instead, and the perf row sends them through")
    emit(
        "perf buffers as the C consumer does. The other consumers load clang's compile of its C. Rates and costs move with how the"
    )
    emit("kernel happens to batch wake-ups, so the rows the targets compare (C, Swift and bcc Python at")
    emit("their defaults) take \(repeats) runs each, in turns: each column is the median of its runs, taken")
    emit("separately, except lost and gaps, the worst run's. The other rows are one run. The last row")
    emit("counts the same events in the kernel (the library's generated count, compiled by clang) and")
    emit("sends none: its delivered/s is the count over the load's time, its ns/syscall what the load paid.")

    var reference: [Consumer: Measurement] = [:]
    var referenceUnprobed = Double.nan
    for size in sizes {
        for count in counts {
            let scenario = size >= 512 ? Scenario.large(count: count) : Scenario.small(count: count)
            let unprobed = try harness.unprobedCost(scenario)
            let rows = try harness.measureInTurns(consumers, scenario, repeats: repeats, repeated: repeated)
            let c = rows.first { $0.consumer == .c(pages: 0, wakeup: 128) }
            let pages = PerfBufferOptions.automaticPageCount(recordSize: size)
            emit(
                Report.table(
                    title:
                        "### \(size)-byte records (\(scenario.syscall)), \(count) events; library's rings: \(pages) pages per CPU",
                    unprobed: unprobed, rows: rows, c: c))
            if size < 512, count == counts.max() {
                for row in rows { reference[row.consumer] = row }
                referenceUnprobed = unprobed
            }
        }
    }

    emit("")
    emit("Latency of a lone event, closure probe at library defaults, 1 event per second, \(latencyEvents) events:")
    let p99 =
        try harness.latencyLines(of: [.swiftClosure, .swiftClosurePerf], events: latencyEvents)[.swiftClosure] ?? .nan

    guard let c = reference[.c(pages: 0, wakeup: 128)], let closure = reference[.swiftClosure],
        let borrowed = reference[.swiftBorrowed], let closurePerf = reference[.swiftClosurePerf],
        let byName = reference[.swiftByName], let typed = reference[.swiftTyped],
        let python = reference[.python(pages: 8, wakeup: 1)],
        let tunedPython = reference[.python(pages: 0, wakeup: 128)],
        let counted = reference[.swiftCount]
    else { return }
    // What a probe adds to each traced syscall: its cost with the probe less without.
    let countAdds = counted.nanosecondsPerSyscall - referenceUnprobed
    let closureAdds = closure.nanosecondsPerSyscall - referenceUnprobed
    // The kernel's lost count and the sequence gaps count the same missing events.
    func losses(_ m: Measurement) -> Double { max(m.lost, m.gaps) }
    let targets: [Report.Target] = [
        .init(
            statement: "closure throughput ≥ 0.95 × C",
            measured: Report.ratio(closure.eventsPerSecond, c.eventsPerSecond),
            pass: closure.eventsPerSecond >= 0.95 * c.eventsPerSecond),
        .init(
            statement: "closure loses nothing",
            measured: "\(Report.number(closure.lost)) lost, \(Report.number(closure.gaps)) gaps",
            pass: losses(closure) == 0),
        .init(
            statement: "closure traced syscall cost ≤ 0.8 × C (ring buffer), nothing lost",
            measured:
                "\(Report.ratio(closure.nanosecondsPerSyscall, c.nanosecondsPerSyscall)) (perf buffers: \(Report.ratio(closurePerf.nanosecondsPerSyscall, c.nanosecondsPerSyscall))), \(Report.number(losses(closure))) lost",
            pass: closure.nanosecondsPerSyscall <= 0.8 * c.nanosecondsPerSyscall && losses(closure) == 0),
        .init(
            statement: "by-name CPU per event ≤ 1.5 × C",
            measured: Report.ratio(byName.cpuNanosecondsPerEvent, c.cpuNanosecondsPerEvent),
            pass: byName.cpuNanosecondsPerEvent <= 1.5 * c.cpuNanosecondsPerEvent),
        .init(
            statement: "typed CPU per event ≤ 1.2 × C",
            measured: Report.ratio(typed.cpuNanosecondsPerEvent, c.cpuNanosecondsPerEvent),
            pass: typed.cpuNanosecondsPerEvent <= 1.2 * c.cpuNanosecondsPerEvent),
        .init(
            statement: "start-up ≤ 1.3 × C", measured: Report.ratio(closure.startupMilliseconds, c.startupMilliseconds),
            pass: closure.startupMilliseconds <= 1.3 * c.startupMilliseconds),
        .init(
            statement: "peak RSS ≤ C + 15 MB",
            measured:
                "C \(closure.peakRSS < c.peakRSS ? "−" : "+") \(Report.number(Double(abs(closure.peakRSS - c.peakRSS)) / 1_048_576, 1)) MB",
            pass: closure.peakRSS <= c.peakRSS + 15 * 1_048_576),
        .init(
            statement: "throughput ≥ 8 × bcc Python defaults",
            measured: Report.ratio(closure.eventsPerSecond, python.eventsPerSecond),
            pass: closure.eventsPerSecond >= 8 * python.eventsPerSecond),
        .init(
            statement: "fewer lost than bcc Python at any setting",
            measured:
                "\(Report.number(losses(closure))) vs \(Report.number(losses(python))) (defaults), \(Report.number(losses(tunedPython))) (library's pages, wakeup 128)",
            pass: losses(closure) <= min(losses(python), losses(tunedPython))
                && (losses(closure) == 0 || losses(closure) < min(losses(python), losses(tunedPython)))),
        .init(statement: "single-event latency p99 ≤ 50 ms", measured: "\(Report.number(p99, 2)) ms", pass: p99 <= 50),
        // Per event, decoding allocates nothing; what is counted is per wake-up (one per
        // 128 records at the defaults) and the harness's own bookkeeping.
        .init(
            statement: "typed and by-name: < 0.01 heap allocations per event",
            measured:
                "typed \(typed.allocationsPerEvent.map { Report.number($0, 4) } ?? "not counted"), by name \(byName.allocationsPerEvent.map { Report.number($0, 4) } ?? "not counted")",
            pass: (typed.allocationsPerEvent ?? .infinity) < 0.01 && (byName.allocationsPerEvent ?? .infinity) < 0.01),
        .init(
            statement: "closure CPU per event ≤ 1.1 × C (borrowed events)",
            measured:
                "\(Report.ratio(borrowed.cpuNanosecondsPerEvent, c.cpuNanosecondsPerEvent)) (copied: \(Report.ratio(closure.cpuNanosecondsPerEvent, c.cpuNanosecondsPerEvent)); copied, perf buffers: \(Report.ratio(closurePerf.cpuNanosecondsPerEvent, c.cpuNanosecondsPerEvent)))",
            pass: borrowed.cpuNanosecondsPerEvent <= 1.1 * c.cpuNanosecondsPerEvent),
        .init(
            statement: "in-kernel count counts every call",
            measured: "\(Report.number(counted.delivered)) counted, \(Report.number(counted.gaps)) missed",
            pass: counted.gaps == 0 && counted.lost == 0),
        .init(
            statement: "in-kernel count: added cost per traced syscall ≤ 0.5 × the closure probe's",
            measured:
                "\(Report.number(countAdds)) vs \(Report.number(closureAdds)) ns (\(Report.ratio(countAdds, closureAdds)))",
            pass: countAdds <= 0.5 * closureAdds),
    ]
    emit(Report.targets(targets + (try startupTargets(arguments)) + (try wholeRunTargets(arguments))))
}
