import EBPF

/// An aggregation running in the kernel and the metric it is served as.
struct AggregationSource: Sendable {
    let metric: AggregationMetric
    let aggregation: Aggregation
    /// What the label decoders look names up in.
    let context: LabelContext
    let decoders: DecoderChain

    /// Starts the aggregation in `wrapper`; its labels are decoded with `cgroups`.
    init(_ metric: AggregationMetric, in wrapper: EBPFWrapper<NoProgram>, cgroups: CgroupResolver) throws(EBPFError) {
        self.metric = metric
        context = LabelContext(symbols: wrapper.symbols, cgroups: cgroups)
        if metric.decoders.contains(where: { if case .ksym = $0 { true } else { false } }) {
            // Reads /proc/kallsyms now: once the exporter drops CAP_SYSLOG, the kernel shows
            // it every address as 0.
            _ = wrapper.symbols.ksym(0)
        }
        decoders = DecoderChain(metric.decoders)
        let measure: AggregationMeasure
        switch metric.measure {
        case .count: measure = .count
        case .sum(let field): measure = .statistics(of: field)
        case .histogram(let field, let buckets): measure = .histogram(of: field, buckets: buckets)
        case .latency: measure = .latency
        }
        aggregation = try wrapper.aggregate(
            metric.point, measure, by: metric.key, filter: metric.filter, options: metric.options)
    }

    /// The metric's family and one sample (or histogram) per key, from the kernel's table now.
    func write(into text: inout ExpositionText) throws(EBPFError) {
        let entries = decoded(try aggregation.snapshot())
        let labelName = metric.key?.description
        func labels(_ entry: Aggregation.Entry) -> [(name: String, value: String)] {
            guard let labelName else { return [] }
            return [(labelName, entry.key?.stringValue ?? "")]
        }
        switch metric.measure {
        case .count, .sum:
            text.family(metric.name, help: metric.help, type: "counter")
            for entry in entries {
                let value = metric.measure == .count ? String(entry.count) : String(entry.sum ?? 0)
                text.sample(metric.name, labels(entry), value)
            }
        case .histogram, .latency:
            let seconds: Bool
            if case .latency = metric.measure { seconds = true } else { seconds = false }
            text.family(metric.name, help: metric.help, type: "histogram")
            for entry in entries {
                let buckets = HistogramBounds.cumulative(
                    entry.histogram ?? Histogram(scale: .log2, counts: []),
                    below: seconds ? nil : entry.belowRangeCount, divisor: seconds ? 1e9 : nil)
                let sum = entry.sum.map { seconds ? (Double($0) / 1e9).description : String($0) }
                text.histogram(metric.name, labels(entry), buckets: buckets, sum: sum, count: entry.count)
            }
        }
    }

    /// Each entry with its label's value as a string, decoded; entries the decoders drop
    /// are left out, and entries that decode to the same value are added up (one series).
    private func decoded(_ entries: [Aggregation.Entry]) -> [Aggregation.Entry] {
        guard metric.key != nil else { return entries }
        var merged: [String: Aggregation.Entry] = [:]
        var order: [String] = []
        for var entry in entries {
            // A stack is one label value, its frames folded outermost first (`a;b;c`).
            var value =
                entry.key?.stringsValue.map { $0.reversed().joined(separator: ";") } ?? entry.key?.description ?? ""
            guard let decoded = decoders.decode(value, in: context) else { continue }
            value = decoded
            entry.key = .string(value)
            if let existing = merged[value] {
                merged[value] = existing.adding(entry)
            } else {
                merged[value] = entry
                order.append(value)
            }
        }
        return order.map { merged[$0]! }
    }
}

extension Aggregation.Entry {
    /// This entry and `other` (of the same metric) as one: counts, sums and buckets added,
    /// the lower minimum and the higher maximum.
    func adding(_ other: Aggregation.Entry) -> Aggregation.Entry {
        var histogram = self.histogram
        if let mine = self.histogram, let theirs = other.histogram {
            var counts = mine.counts
            if counts.count < theirs.counts.count {
                counts += Array(repeating: 0, count: theirs.counts.count - counts.count)
            }
            for (index, count) in theirs.counts.enumerated() { counts[index] += count }
            histogram = Histogram(scale: mine.scale, counts: counts)
        }
        /// Both through `pick`, or whichever there is.
        func either(_ one: Int64?, _ other: Int64?, _ pick: (Int64, Int64) -> Int64) -> Int64? {
            guard let one, let other else { return one ?? other }
            return pick(one, other)
        }
        return Aggregation.Entry(
            key: key, count: count + other.count, sum: either(sum, other.sum, +),
            min: either(min, other.min, Swift.min),
            max: either(max, other.max, Swift.max), histogram: histogram,
            belowRangeCount: belowRangeCount + other.belowRangeCount,
            aboveRangeCount: aboveRangeCount + other.aboveRangeCount)
    }
}
