import EBPF

/// An aggregation running in the kernel and the metric it is served as.
struct AggregationSource: Sendable {
    let metric: AggregationMetric
    let aggregation: Aggregation

    /// Starts the aggregation in `wrapper`.
    init(_ metric: AggregationMetric, in wrapper: EBPFWrapper<NoProgram>) throws(EBPFError) {
        self.metric = metric
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
        let entries = try aggregation.snapshot()
        let labelName = metric.key?.description
        func labels(_ entry: Aggregation.Entry) -> [(name: String, value: String)] {
            guard let labelName else { return [] }
            // A stack is one label value, its frames folded outermost first (`a;b;c`).
            if let frames = entry.key?.stringsValue { return [(labelName, frames.reversed().joined(separator: ";"))] }
            return [(labelName, entry.key?.description ?? "")]
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
}
