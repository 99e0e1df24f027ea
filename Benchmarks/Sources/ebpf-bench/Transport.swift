/// The closure probe's two transports side by side — the BPF ring buffer (the default on
/// 5.8+ kernels) and per-CPU perf buffers — against the C consumer on perf buffers, on one
/// load: traced-syscall cost, consumer CPU, losses, and a lone event's latency. Run inside
/// Debian's 6.1 guest by Benchmarks/transport.sh (issue 31 asks for both kernels; the
/// host's figures are the main benchmark's rows).
#if canImport(Glibc)
import Glibc
#endif

enum Transport {
    static let consumers: [Consumer] = [.c(pages: 0, wakeup: 128), .swiftClosure, .swiftClosurePerf, .swiftBorrowed]

    static func run(_ arguments: [String]) throws {
        let count = Int(option("--events", in: arguments) ?? "100000") ?? 100_000
        let repeats = max(1, Int(option("--repeats", in: arguments) ?? "3") ?? 3)
        let latencyEvents = Int(option("--latency-events", in: arguments) ?? "10") ?? 10
        let harness = try Harness(baselines: option("--baselines", in: arguments) ?? "Benchmarks/baselines")
        let scenario = Scenario.small(count: count)
        let unprobed = try harness.unprobedCost(scenario)
        let rows = try harness.measureInTurns(consumers, scenario, repeats: repeats)
        let c = rows.first { $0.consumer == .c(pages: 0, wakeup: 128) }
        emit("Kernel \(kernelRelease()): the closure probe's transports against the C consumer on perf buffers,")
        emit(
            "\(count) events of \(scenario.syscall), each row the median of \(repeats) runs in turns (lost and gaps: the worst run)."
        )
        emit(
            Report.table(
                title: "### 64-byte records (\(scenario.syscall)), \(count) events", unprobed: unprobed, rows: rows,
                c: c))
        emit("")
        emit("Latency of a lone event, 1 event per second, \(latencyEvents) events:")
        _ = try harness.latencyLines(of: [.swiftClosure, .swiftClosurePerf], events: latencyEvents)
        guard let c, let ring = rows.first(where: { $0.consumer == .swiftClosure }),
            let perf = rows.first(where: { $0.consumer == .swiftClosurePerf })
        else { return }
        emit("")
        emit(
            "Ring buffer against perf buffers (closure probe): traced syscall \(Report.ratio(ring.nanosecondsPerSyscall, perf.nanosecondsPerSyscall)), CPU per event \(Report.ratio(ring.cpuNanosecondsPerEvent, perf.cpuNanosecondsPerEvent)); against C: \(Report.ratio(ring.nanosecondsPerSyscall, c.nanosecondsPerSyscall)) and \(Report.ratio(ring.cpuNanosecondsPerEvent, c.cpuNanosecondsPerEvent)); lost \(Report.number(max(ring.lost, ring.gaps))) (ring), \(Report.number(max(perf.lost, perf.gaps))) (perf)."
        )
    }

    private static func kernelRelease() -> String {
        var name = utsname()
        uname(&name)
        return withUnsafeBytes(of: &name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }
}

extension Harness {
    /// Each consumer's runs of one scenario, taken in turns (every consumer once, then again),
    /// as one row each; consumers outside `repeated` run only in the first turn.
    func measureInTurns(_ consumers: [Consumer], _ scenario: Scenario, repeats: Int, repeated: Set<Consumer>? = nil)
        throws -> [Measurement]
    {
        var runs: [Consumer: [Measurement]] = [:]
        for round in 0..<repeats {
            for consumer in consumers where round == 0 || repeated?.contains(consumer) ?? true {
                let (measurement, _) = try measure(consumer, scenario)
                runs[consumer, default: []].append(measurement)
                warn("  \(scenario.syscall), \(scenario.count) events: \(consumer.label) done (run \(round + 1))")
            }
        }
        return consumers.map { Measurement.combining(runs[$0]!) }
    }

    /// Prints each consumer's latency from the kernel's timestamp to the closure, one event
    /// a second; returns each one's p99 in milliseconds.
    func latencyLines(of consumers: [Consumer], events: Int) throws -> [Consumer: Double] {
        var p99: [Consumer: Double] = [:]
        for consumer in consumers {
            let (_, latency) = try measure(consumer, Scenario.small(count: events), perSecond: 1, latency: true)
            p99[consumer] = (latency["p99_ns"] ?? .nan) / 1e6
            emit(
                "\(consumer.label): kernel timestamp to closure p50 \(Report.number((latency["p50_ns"] ?? .nan) / 1e6, 2)) ms, p99 \(Report.number((latency["p99_ns"] ?? .nan) / 1e6, 2)) ms, max \(Report.number((latency["max_ns"] ?? .nan) / 1e6, 2)) ms; delivered \(Report.number(latency["delivered"] ?? .nan)) of \(events)"
            )
        }
        return p99
    }
}
