import EBPF

/// An aggregation running in the kernel and the metric it is served as.
struct AggregationSource: Sendable {
    let metric: AggregationMetric
    let aggregation: Aggregation

    /// Starts the aggregation in `wrapper`.
    init(_ metric: AggregationMetric, in wrapper: EBPFWrapper) throws(EBPFError) {
        self.metric = metric
        let (target, key, filter, options) = (metric.point, metric.key, metric.filter, metric.options)
        switch metric.measure {
        case .count:
            aggregation = try wrapper.count(target, by: key, filter: filter, options: options)
        case .sum(let field):
            aggregation = try wrapper.aggregate(target, field: field, by: key, filter: filter, options: options)
        case .histogram(let field, let buckets):
            aggregation = try wrapper.histogram(
                target, of: field, by: key, buckets: buckets, filter: filter, options: options)
        case .latency(let name):
            aggregation = try wrapper.latency(ofSyscall: name, by: key, filter: filter, options: options)
        }
    }

    /// The metric's family and one sample (or histogram) per key, from the kernel's table now.
    func write(into text: inout ExpositionText) throws(EBPFError) {
        let entries = try aggregation.snapshot()
        let labelName = metric.key?.description
        func labels(_ entry: Aggregation.Entry) -> [(name: String, value: String)] {
            guard let labelName else { return [] }
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
