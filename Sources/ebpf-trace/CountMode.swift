import EBPF
import CommandLineSupport

/// `--count-by`, `--sum`, `--histogram`, `--latency`: the events are aggregated in the
/// kernel (by a key) and the results printed per interval or at exit, instead of one line
/// per event.
struct CountMode {
    let key: AggregationKey?
    /// What is kept per key; a latency's events are syscall names.
    let measure: AggregationMeasure
    let interval: Double?
    let top: Int?
    let format: OutputFormat
    /// Names `--count-by cgroup`'s keys.
    let cgroups = CgroupResolver()

    /// The key named on the command line: comm, pid, tid, uid, cpu, cgroup, all (one total)
    /// or a field of the event.
    static func key(named name: String) -> AggregationKey? {
        switch name {
        case "comm": return .processName
        case "pid": return .processID
        case "tid": return .threadID
        case "uid": return .userID
        case "cpu": return .cpu
        case "cgroup": return .cgroup
        case "ustack": return .userStack
        case "kstack": return .kernelStack
        case "all": return nil
        default: return .field(name)
        }
    }

    /// Attaches one aggregation per event, aggregates until the window ends, printing every
    /// interval (or once at exit), then a summary.
    func run(
        _ events: [(name: String, point: AttachPoint)], filter: ProbeFilter, options: AggregationOptions,
        wrapper: EBPFWrapper<NoProgram>, writer: LineWriter, window: TracingWindow
    ) throws {
        var aggregations: [Aggregation] = []
        do {
            for event in events {
                aggregations.append(try attach(event, filter: filter, options: options, to: wrapper))
            }
        } catch {
            wrapper.close()
            throw error
        }
        window.begin()
        Example.status("tracing \(aggregations.map(\.eventName).joined(separator: ", ")) (\(description))")
        var totals = [UInt64](repeating: 0, count: aggregations.count)
        func printAll(final: Bool) throws {
            let elapsed = window.elapsedSeconds
            for (index, aggregation) in aggregations.enumerated() {
                // Each interval starts afresh; without intervals, the counts since the start.
                let entries = interval == nil ? try aggregation.snapshot() : try aggregation.take()
                totals[index] += entries.reduce(0) { $0 + $1.count }
                guard !entries.isEmpty || !final || interval == nil else { continue }
                writer.write(lines(for: entries, of: aggregation, elapsed: elapsed))
            }
            writer.flush()
        }
        while !window.stopped(atNextTickOf: interval) {
            try printAll(final: false)
        }
        wrapper.detachAll()
        try printAll(final: true)

        var summary = ["", "EVENT                            COUNT   DROPPED"]
        for (index, aggregation) in aggregations.enumerated() {
            // Unreadable (the table gone) shows as such, never as no drops.
            let dropped = (try? aggregation.droppedCount()).map { String($0) } ?? "unknown"
            summary.append(
                aggregation.eventName.padded(32) + " " + String(totals[index]).padded(7) + " " + dropped)
        }
        wrapper.close()
        if format == .table {
            summary.forEach { writer.write($0) }
            writer.flush()
        } else {
            summary.forEach(Example.status)
        }
    }

    private func attach(
        _ event: (name: String, point: AttachPoint), filter: ProbeFilter, options: AggregationOptions,
        to wrapper: EBPFWrapper<NoProgram>
    ) throws -> Aggregation {
        // Each event is aggregated alone: --strings is for its USDT and uprobe events.
        var options = options
        if ![.usdt, .uprobe].contains(event.point.kind) { options.arguments.strings = [] }
        return try wrapper.aggregate(event.point, measure, by: key, filter: filter, options: options)
    }

    /// What the status line says is kept.
    private var description: String {
        let by = "by \(key?.description ?? "all")"
        switch measure {
        case .count: return "counting " + by
        case .statistics(let field): return "counting \(by), with \(field)"
        case .histogram(let field, _): return "a histogram of \(field) \(by)"
        case .latency: return "a histogram of latency \(by)"
        }
    }

    /// What the tables call the aggregated values.
    private var field: String? {
        switch measure {
        case .count: return nil
        case .statistics(let field), .histogram(let field, _): return field
        case .latency: return "nsecs"
        }
    }

    /// One aggregation's entries: a titled table (or histograms), or one JSON line.
    func lines(for entries: [Aggregation.Entry], of aggregation: Aggregation, elapsed: Double) -> String {
        var shown = top.map { Array(entries.prefix($0)) } ?? entries
        if key == .cgroup {
            // A cgroup by its path; one removed before any walk saw it, by its id.
            for index in shown.indices {
                guard let id = shown[index].key?.uint64Value else { continue }
                shown[index].key = .string(cgroups.cgroup(id: id)?.path ?? "cgroup \(id)")
            }
        }
        let keyName = key?.description ?? ""
        switch format {
        case .table:
            // Names chosen by traced processes, escaped before they are laid out.
            let safe = shown.map { entry in
                var entry = entry
                if case .string(let text)? = entry.key { entry.key = .string(text.terminalSafe) }
                if let frames = entry.key?.stringsValue { entry.key = .array(frames.map { .string($0.terminalSafe) }) }
                return entry
            }
            let table = Aggregation.text(of: safe, keyName: keyName, field: field)
            return "[\(String(format: elapsed).dropLast(3)) s] \(aggregation.eventName)\n\(table)\n"
        case .json:
            let objects = shown.map { entry -> String in
                var members: [(String, String)] = []
                if let value = entry.key { members.append((keyName, JSON.value(value))) }
                members.append(("count", String(entry.count)))
                if let sum = entry.sum, let low = entry.min, let high = entry.max, let average = entry.average {
                    members += [
                        ("sum", String(sum)), ("min", String(low)), ("max", String(high)), ("avg", String(average)),
                    ]
                }
                if let histogram = entry.histogram {
                    // Each non-empty bucket as [low, high, count]; what fell below and above.
                    let buckets = histogram.buckets.filter { $0.count > 0 }.map { "[\($0.low),\($0.high),\($0.count)]" }
                    members.append(("buckets", "[" + buckets.joined(separator: ",") + "]"))
                    members.append(("below_range", String(entry.belowRangeCount)))
                    if case .steps = histogram.scale { members.append(("above_range", String(entry.aboveRangeCount))) }
                }
                return JSON.object(members)
            }
            return JSON.object([
                ("event", JSON.string(aggregation.eventName)), ("elapsed_s", String(format: elapsed)),
                ("entries", "[" + objects.joined(separator: ",") + "]"),
            ])
        }
    }
}
