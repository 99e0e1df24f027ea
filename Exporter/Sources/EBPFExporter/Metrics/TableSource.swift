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
                var counter: UInt64 = 0
                var gauge: Int64 = 0
                for cpuValue in item.value {
                    guard let integer = cpuValue.value,
                        let signed = integer.intValue ?? integer.uint64Value.map(Int.init(truncatingIfNeeded:))
                    else {
                        throw EBPFError(
                            .invalidArgument,
                            "the values of table '\(table.name)' are not integers, so metric '\(metric.name)' cannot be a \(metric.kind); a table of integers can"
                        )
                    }
                    counter &+= integer.uint64Value ?? UInt64(truncatingIfNeeded: signed)
                    gauge &+= Int64(signed)
                }
                samples.append((labels(item.key), metric.kind == .counter ? String(counter) : String(gauge)))
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
