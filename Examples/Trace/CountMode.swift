import EBPF
import ExampleSupport

/// `--count-by`: the events are counted in the kernel (by a key, with a field's sum, min
/// and max) and the counts printed per interval or at exit, instead of one line per event.
struct CountMode {
    let key: AggregationKey?
    let field: String?
    let interval: Double?
    let top: Int?
    let format: OutputFormat

    /// The key named on the command line: comm, pid, tid, uid, cpu, all (one total) or a
    /// field of the event.
    static func key(named name: String) -> AggregationKey? {
        switch name {
        case "comm": return .processName
        case "pid": return .processID
        case "tid": return .threadID
        case "uid": return .userID
        case "cpu": return .cpu
        case "all": return nil
        default: return .field(name)
        }
    }

    /// Attaches one aggregation per target, counts until `stop` says so, printing every
    /// interval (or once at exit), then a summary.
    func run(
        _ targets: [ProbeTarget], filter: ProbeFilter, options: AggregationOptions, wrapper: EBPFWrapper,
        writer: LineWriter, stop: (_ seconds: Double) -> Bool
    ) throws {
        var aggregations: [Aggregation] = []
        do {
            for target in targets {
                aggregations.append(
                    try field.map {
                        try wrapper.aggregate(target, field: $0, by: key, filter: filter, options: options)
                    }
                        ?? wrapper.count(target, by: key, filter: filter, options: options))
            }
        } catch {
            wrapper.close()
            throw error
        }
        let start = ContinuousClock.now
        Example.status(
            "tracing \(aggregations.map(\.program.eventName).joined(separator: ", ")) (counting by \(key?.description ?? "all")\(field.map { ", with \($0)" } ?? ""))"
        )
        var totals = [UInt64](repeating: 0, count: aggregations.count)
        func printAll(final: Bool) throws {
            let elapsed = Double((ContinuousClock.now - start) / .milliseconds(1)) / 1000
            for (index, aggregation) in aggregations.enumerated() {
                // Each interval starts afresh; without intervals, the counts since the start.
                let entries = interval == nil ? try aggregation.snapshot() : try aggregation.take()
                totals[index] += entries.reduce(0) { $0 + $1.count }
                guard !entries.isEmpty || !final || interval == nil else { continue }
                writer.write(lines(for: entries, of: aggregation, elapsed: elapsed))
            }
            writer.flush()
        }
        while !stop(interval ?? .infinity) {
            try printAll(final: false)
        }
        aggregations.forEach { $0.detach() }
        try printAll(final: true)

        var summary = ["", "EVENT                            COUNT   DROPPED"]
        for (index, aggregation) in aggregations.enumerated() {
            let dropped = (try? aggregation.droppedCount()) ?? 0
            summary.append(
                aggregation.program.eventName.padded(32) + " " + String(totals[index]).padded(7) + " " + String(dropped)
            )
        }
        wrapper.close()
        if format == .table {
            summary.forEach { writer.write($0) }
            writer.flush()
        } else {
            summary.forEach(Example.status)
        }
    }

    /// One aggregation's entries: a titled table, or one JSON line.
    func lines(for entries: [Aggregation.Entry], of aggregation: Aggregation, elapsed: Double) -> String {
        let shown = top.map { Array(entries.prefix($0)) } ?? entries
        let keyName = key?.description ?? ""
        switch format {
        case .table:
            // Names chosen by traced processes, escaped before they are laid out.
            let safe = shown.map { entry in
                var entry = entry
                if case .string(let text)? = entry.key { entry.key = .string(text.terminalSafe) }
                return entry
            }
            let table = Aggregation.text(of: safe, keyName: keyName, field: field)
            return "[\(String(format: elapsed).dropLast(3)) s] \(aggregation.program.eventName)\n\(table)\n"
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
                return JSON.object(members)
            }
            return JSON.object([
                ("event", JSON.string(aggregation.program.eventName)), ("elapsed_s", String(format: elapsed)),
                ("entries", "[" + objects.joined(separator: ",") + "]"),
            ])
        }
    }
}
