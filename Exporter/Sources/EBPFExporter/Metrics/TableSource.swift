import EBPF

/// A table of a native program and the metric it is served as.
struct TableSource: Sendable {
    let metric: TableMetric
    let table: Table

    /// The metric's family and one sample per key (for a histogram, per section), from the
    /// table now. Per-CPU values are added up.
    func write(into text: inout ExpositionText) throws(EBPFError) {
        switch metric.kind {
        case .counter, .gauge:
            text.family(metric.name, help: metric.help, type: metric.kind == .counter ? "counter" : "gauge")
            var samples: [(labels: [(name: String, value: String)], value: String)] = []
            for item in try table.perCPUItems() {
                let value: String
                if metric.kind == .counter {
                    value = String(item.value.reduce(UInt64(0)) { $0 &+ ($1.uint64Value ?? 0) })
                } else {
                    value = String(item.value.reduce(Int64(0)) { $0 &+ Int64($1.intValue ?? 0) })
                }
                samples.append((labels(item.key), value))
            }
            // Table order is the kernel's hash order; sorted, a scrape reads the same way twice.
            for sample in samples.sorted(by: {
                $0.labels.map(\.value).lexicographicallyPrecedes($1.labels.map(\.value))
            }) {
                text.sample(metric.name, sample.labels, sample.value)
            }
        case .log2Histogram:
            text.family(metric.name, help: metric.help, type: "histogram")
            for section in try table.histograms(scale: .log2) {
                let counts = section.histogram.counts
                let labels =
                    section.section.map { [(name: metric.labels.first ?? "section", value: $0.description)] } ?? []
                // bcc's histograms keep counts only: no _sum.
                text.histogram(
                    metric.name, labels,
                    buckets: HistogramBounds.cumulative(section.histogram, below: nil, divisor: nil),
                    sum: nil, count: counts.reduce(0, &+))
            }
        }
    }

    /// A key's fields as labels, named by the configuration or else by the key's fields
    /// (`key` for a scalar key).
    private func labels(_ key: TableValue) -> [(name: String, value: String)] {
        if let value = key.value {
            return [(metric.labels.first ?? "key", value.description)]
        }
        return key.fields.enumerated().map { index, field in
            (index < metric.labels.count ? metric.labels[index] : field.name, field.value.description)
        }
    }
}
