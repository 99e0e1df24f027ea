import EBPFKernel
import EBPFProgram

/// A histogram read from a table that a BPF program fills with `dist.increment(bpf_log2l(v))`
/// (log2) or `dist.increment(v)` (linear): `counts[slot]` events fell into each slot.
public struct Histogram: Sendable, Hashable {
    public enum Scale: Sendable, Hashable {
        /// Slot n holds values from 2^(n-1) to 2^n - 1 (slot 0 holds 0), as `bpf_log2l` assigns.
        case log2
        /// Slot n holds the value n.
        case linear
        /// Slot n holds the values from `from + n * width` to `from + (n + 1) * width - 1`
        /// (a linear histogram aggregation's buckets).
        case steps(from: UInt64, width: UInt64)
    }

    public var scale: Scale
    public var counts: [UInt64]

    public init(scale: Scale, counts: [UInt64]) {
        self.scale = scale
        self.counts = counts
    }

    /// The non-empty range of slots as buckets with their value ranges, as bcc prints them.
    /// One bucket: the values from `low` to `high` and how many events fell there.
    public struct Bucket: Sendable, Hashable {
        public var low: UInt64
        public var high: UInt64
        public var count: UInt64

        public init(low: UInt64, high: UInt64, count: UInt64) {
            self.low = low
            self.high = high
            self.count = count
        }
    }

    public var buckets: [Bucket] {
        guard let last = counts.lastIndex(where: { $0 > 0 }) else { return [] }
        switch scale {
        case .log2:
            // bcc prints from slot 1 ("0 -> 1"); slot 0 alone prints nothing.
            guard last >= 1 else { return [] }
            return (1...last).map { slot in
                var low: UInt64 = (1 << UInt64(slot)) >> 1
                let high: UInt64 = slot >= 64 ? .max : (1 << UInt64(slot)) - 1
                if low == high { low -= 1 }
                return Bucket(low: low, high: high, count: slot < counts.count ? counts[slot] : 0)
            }
        case .linear:
            return (0...last).map { Bucket(low: UInt64($0), high: UInt64($0), count: counts[$0]) }
        case .steps(let from, let width):
            return (0...last).map { slot in
                let low = from &+ UInt64(slot) &* width
                return Bucket(low: low, high: low &+ width &- 1, count: counts[slot])
            }
        }
    }

    /// The histogram in bcc's text layout (`print_log2_hist` / `print_linear_hist`): a header
    /// naming `valueType`, one line per bucket with its count and a bar of up to 40 stars.
    public func text(valueType: String = "value", stripLeadingZero: Bool = false) -> String {
        let last = counts.lastIndex(where: { $0 > 0 }) ?? -1
        let largest = counts.max() ?? 0
        var lines: [String] = []
        var stripping = stripLeadingZero
        func bar(_ value: UInt64, _ width: Int) -> String {
            let stars = largest == 0 ? 0 : min(width, Int(Double(width) * Double(value) / Double(largest)))
            return String(repeating: "*", count: stars) + String(repeating: " ", count: width - stars)
        }
        func keep(_ value: UInt64) -> Bool {
            if stripping, value == 0 { return false }
            stripping = false
            return true
        }
        switch scale {
        case .log2, .steps:
            let wide = scale == .log2 ? last > 32 : (buckets.last?.high ?? 0) >= 10_000_000_000
            let width = wide ? 20 : 40
            if last > 0 {
                lines.append(
                    wide
                        ? "               \(pad(valueType, 29)) : count     distribution"
                        : "     \(pad(valueType, 19)) : count     distribution")
            }
            for bucket in buckets where keep(bucket.count) {
                let low = wide ? pad(String(bucket.low), 20, right: true) : pad(String(bucket.low), 10, right: true)
                let high = wide ? pad(String(bucket.high), 20) : pad(String(bucket.high), 10)
                lines.append("\(low) -> \(high) : \(pad(String(bucket.count), 8)) |\(bar(bucket.count, width))|")
            }
        case .linear:
            if last >= 0 { lines.append("     \(pad(valueType, 13)) : count     distribution") }
            for bucket in buckets where keep(bucket.count) {
                lines.append(
                    "        \(pad(String(bucket.low), 10)) : \(pad(String(bucket.count), 8)) |\(bar(bucket.count, 40))|"
                )
            }
        }
        return lines.joined(separator: "\n")
    }

    private func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
        guard text.count < width else { return text }
        let fill = String(repeating: " ", count: width - text.count)
        return right ? fill + text : text + fill
    }
}

/// One histogram of a table whose key is a struct `{ section; slot }` (bcc's "secondary
/// key"), or the only one, with a nil section, when the key is the slot itself.
public struct HistogramSection: Sendable {
    public var section: FieldValue?
    public var histogram: Histogram
}

extension Table {
    /// The table's histograms: one per distinct value of the key's first field when the key
    /// is a struct `{ section; slot }`, else one.
    ///
    /// - Throws: ``EBPFError/Code/invalidArgument`` unless keys are integers (or such
    ///   structs) and values integers.
    public func histograms(scale: Histogram.Scale) throws(EBPFError) -> [HistogramSection] {
        let limit = scale == .log2 ? 65 : 1025
        var sections: [FieldValue?: [UInt64]] = [:]
        for entry in try items() {
            let (key, value) = (entry.key, entry.value)
            guard let count = value.uint64Value else {
                throw EBPFError(.invalidArgument, "the values of '\(name)' are not integers, so it is not a histogram")
            }
            let section: FieldValue?
            let slot: Int?
            if key.isScalar {
                (section, slot) = (nil, key.intValue)
            } else {
                let fields = key.fields
                guard fields.count >= 2 else {
                    throw EBPFError(
                        .invalidArgument,
                        "the key of '\(name)' is neither an integer slot nor a { section; slot } struct")
                }
                (section, slot) = (fields[0].value, fields[1].value.intValue)
            }
            guard let slot, slot >= 0, slot < limit else {
                throw EBPFError(
                    .invalidArgument, "a slot of '\(name)' is outside 0..<\(limit); is it a \(scale) histogram?")
            }
            var counts = sections[section] ?? [UInt64](repeating: 0, count: limit)
            counts[slot] = count
            sections[section] = counts
        }
        if sections.isEmpty, keyLayout?.isScalar ?? true {
            return [HistogramSection(section: nil, histogram: Histogram(scale: scale, counts: []))]
        }
        return
            sections
            .sorted {
                ($0.key?.intValue ?? 0, $0.key?.description ?? "") < ($1.key?.intValue ?? 0, $1.key?.description ?? "")
            }
            .map { HistogramSection(section: $0.key, histogram: Histogram(scale: scale, counts: $0.value)) }
    }

    /// The table as text in bcc's layout of `print_log2_hist` / `print_linear_hist`, with a
    /// `"\n<sectionHeader> = <section>"` line before each section's histogram.
    public func histogramText(
        scale: Histogram.Scale, valueType: String = "value", sectionHeader: String = "Bucket ptr",
        sectionFormatter: ((FieldValue) -> String)? = nil, stripLeadingZero: Bool = false
    ) throws(EBPFError) -> String {
        var parts: [String] = []
        for section in try histograms(scale: scale) {
            if let value = section.section {
                parts.append("\n\(sectionHeader) = \(sectionFormatter?(value) ?? value.description)")
            }
            let text = section.histogram.text(valueType: valueType, stripLeadingZero: stripLeadingZero)
            if !text.isEmpty { parts.append(text) }
        }
        return parts.joined(separator: "\n")
    }

    /// Prints the table as a log2 histogram, as bcc's `print_log2_hist(val_type, section_header)`.
    public func printLog2Histogram(
        valueType: String = "value", sectionHeader: String = "Bucket ptr",
        sectionFormatter: ((FieldValue) -> String)? = nil, stripLeadingZero: Bool = false
    ) throws(EBPFError) {
        print(
            try histogramText(
                scale: .log2, valueType: valueType, sectionHeader: sectionHeader,
                sectionFormatter: sectionFormatter, stripLeadingZero: stripLeadingZero))
    }

    /// Prints the table as a linear histogram, as bcc's `print_linear_hist(val_type, section_header)`.
    public func printLinearHistogram(
        valueType: String = "value", sectionHeader: String = "Bucket ptr",
        sectionFormatter: ((FieldValue) -> String)? = nil, stripLeadingZero: Bool = false
    ) throws(EBPFError) {
        print(
            try histogramText(
                scale: .linear, valueType: valueType, sectionHeader: sectionHeader,
                sectionFormatter: sectionFormatter, stripLeadingZero: stripLeadingZero))
    }
}
