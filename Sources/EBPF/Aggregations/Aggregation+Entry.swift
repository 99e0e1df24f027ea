import EBPFProgram

extension Aggregation {
    /// One key's statistics, or its histogram.
    public struct Entry: Sendable, Hashable {
        /// The key's value (a name, an id, a field's value); nil for an aggregation without
        /// a key.
        public var key: FieldValue?
        /// Events counted.
        public var count: UInt64
        /// The aggregated field's sum (for a histogram, of its values: nanoseconds for a
        /// latency), as a signed 64-bit integer; nil when only counting.
        public var sum: Int64?
        /// The aggregated field's smallest and largest value; nil when only counting, and for
        /// histograms.
        public var min: Int64?
        public var max: Int64?
        /// For a histogram aggregation, how many values fell into each bucket: power-of-two
        /// ranges (bcc's log2 slots) or linear steps; values outside are counted in
        /// ``belowRangeCount`` and ``aboveRangeCount`` instead.
        public var histogram: Histogram?
        /// For a histogram aggregation, the values below its buckets: below zero for log2
        /// buckets (a syscall's error returns), below `min` for linear ones.
        public var belowRangeCount: UInt64
        /// For a linear histogram aggregation, the values from its `max` up.
        public var aboveRangeCount: UInt64

        public init(
            key: FieldValue?, count: UInt64, sum: Int64? = nil, min: Int64? = nil, max: Int64? = nil,
            histogram: Histogram? = nil, belowRangeCount: UInt64 = 0, aboveRangeCount: UInt64 = 0
        ) {
            self.key = key
            self.count = count
            self.sum = sum
            self.min = min
            self.max = max
            self.histogram = histogram
            self.belowRangeCount = belowRangeCount
            self.aboveRangeCount = aboveRangeCount
        }

        /// The mean of the field (or of the histogram's values); nil when only counting.
        public var average: Double? {
            guard let sum, count > 0 else { return nil }
            return Double(sum) / Double(count)
        }

        /// One key's per-CPU statistics added up: each CPU's count (u64), sum, min and max
        /// (s64); a CPU that counted nothing has no min or max.
        init(statistics perCPU: [[UInt8]], key: FieldValue?, hasField: Bool) {
            var count: UInt64 = 0
            var sum: Int64 = 0
            var low: Int64?
            var high: Int64?
            for value in perCPU {
                let cpuCount = Aggregation.word(value, at: 0)
                guard cpuCount > 0 else { continue }
                count &+= cpuCount
                sum &+= Int64(bitPattern: Aggregation.word(value, at: 8))
                let cpuLow = Int64(bitPattern: Aggregation.word(value, at: 16))
                let cpuHigh = Int64(bitPattern: Aggregation.word(value, at: 24))
                low = Swift.min(low ?? cpuLow, cpuLow)
                high = Swift.max(high ?? cpuHigh, cpuHigh)
            }
            let kept = hasField && count > 0
            self.init(key: key, count: count, sum: kept ? sum : nil, min: kept ? low : nil, max: kept ? high : nil)
        }

        /// One key's histogram from its slot counts (``HistogramBuckets/slotCount``: slot 0
        /// below the range, for linear buckets the last one above it) and its values' sum.
        init(slots counts: [UInt64], buckets: HistogramBuckets, sum: Int64, key: FieldValue?) {
            switch buckets {
            case .log2:
                var histogram = counts
                histogram[0] = 0
                self.init(
                    key: key, count: counts.reduce(0, &+), sum: sum,
                    histogram: Histogram(scale: .log2, counts: histogram),
                    belowRangeCount: counts[0])
            case .linear(let min, _, let step):
                self.init(
                    key: key, count: counts.reduce(0, &+), sum: sum,
                    histogram: Histogram(
                        scale: .steps(from: UInt64(min), width: UInt64(step)),
                        counts: Array(counts.dropFirst().dropLast())),
                    belowRangeCount: counts.first ?? 0, aboveRangeCount: counts.count > 1 ? counts.last ?? 0 : 0)
            }
        }

        /// This key's statistics or histogram together with `other`'s (the same key's, from
        /// the other table).
        func merged(with other: Entry) -> Entry {
            var entry = self
            entry.count &+= other.count
            entry.belowRangeCount &+= other.belowRangeCount
            entry.aboveRangeCount &+= other.aboveRangeCount
            if let sum = other.sum { entry.sum = (entry.sum ?? 0) &+ sum }
            if let low = other.min { entry.min = Swift.min(entry.min ?? low, low) }
            if let high = other.max { entry.max = Swift.max(entry.max ?? high, high) }
            if let theirs = other.histogram {
                let mine = entry.histogram?.counts ?? []
                let length = Swift.max(mine.count, theirs.counts.count)
                let counts = (0..<length).map { slot in
                    (slot < mine.count ? mine[slot] : 0) &+ (slot < theirs.counts.count ? theirs.counts[slot] : 0)
                }
                entry.histogram = Histogram(scale: theirs.scale, counts: counts)
            }
            return entry
        }
    }
}
