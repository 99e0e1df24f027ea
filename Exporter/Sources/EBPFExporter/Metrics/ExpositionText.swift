import EBPF

/// Metrics in Prometheus's text exposition format (version 0.0.4): per metric family a
/// `# HELP` and a `# TYPE` line, then its samples, `name{label="value"} number`.
struct ExpositionText {
    private(set) var text = ""

    /// Starts a family; its samples follow.
    mutating func family(_ name: String, help: String, type: String) {
        text += "# HELP \(name) \(Self.escapedHelp(help))\n# TYPE \(name) \(type)\n"
    }

    mutating func sample(_ name: String, _ labels: [(name: String, value: String)], _ value: String) {
        text += name
        if !labels.isEmpty {
            text += "{" + labels.map { "\($0.name)=\"\(Self.escapedLabel($0.value))\"" }.joined(separator: ",") + "}"
        }
        text += " " + value + "\n"
    }

    /// A histogram's samples: `_bucket` per bound (cumulative counts, ending with `+Inf`),
    /// `_sum` when known, `_count`.
    mutating func histogram(
        _ name: String, _ labels: [(name: String, value: String)], buckets: [(bound: String, count: UInt64)],
        sum: String?, count: UInt64
    ) {
        for bucket in buckets {
            sample(name + "_bucket", labels + [("le", bucket.bound)], String(bucket.count))
        }
        sample(name + "_bucket", labels + [("le", "+Inf")], String(count))
        if let sum { sample(name + "_sum", labels, sum) }
        sample(name + "_count", labels, String(count))
    }

    mutating func append(_ other: String) {
        text += other
    }

    /// In a label value, `\`, `"` and line feeds are escaped.
    static func escapedLabel(_ value: String) -> String {
        var escaped = ""
        for character in value.unicodeScalars {
            switch character {
            case "\\": escaped += "\\\\"
            case "\"": escaped += "\\\""
            case "\n": escaped += "\\n"
            default: escaped.unicodeScalars.append(character)
            }
        }
        return escaped
    }

    /// In help text, `\` and line feeds are escaped.
    static func escapedHelp(_ help: String) -> String {
        help.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
    }
}

/// The `le` bounds of a histogram's buckets, each the largest integer its bucket holds:
/// for log2 slots as `bpf_log2l` fills them, slot n (n ≥ 1) holds 2^(n-1) to 2^n - 1 (slot
/// 1 also 0), so its bound is 2^n - 1; a linear step from `low` to `high` is bounded by
/// `high`.
enum HistogramBounds {
    /// Cumulative counts per bound up to the last bucket used: first the values below the
    /// buckets when `below` is given (`le="-1"` for log2, the minimum less one for linear
    /// steps), then one per bucket; each bound divided by `divisor` (1e9 for nanoseconds
    /// as seconds).
    static func cumulative(_ histogram: Histogram, below: UInt64?, divisor: Double?) -> [(bound: String, count: UInt64)]
    {
        func text(_ bound: UInt64) -> String { divisor.map { (Double(bound) / $0).description } ?? String(bound) }
        var result: [(bound: String, count: UInt64)] = []
        var running: UInt64 = 0
        if let below {
            running = below
            if case .steps(let from, _) = histogram.scale, from > 0 {
                result.append((text(from - 1), running))
            } else {
                result.append(("-1", running))
            }
        }
        let counts = histogram.counts
        guard let last = counts.lastIndex(where: { $0 > 0 }) else { return result }
        switch histogram.scale {
        case .log2:
            // A slot 0 (a native histogram's) holds nothing bpf_log2l gives; it joins slot 1.
            for slot in 0...max(last, 1) {
                running &+= slot < counts.count ? counts[slot] : 0
                guard slot >= 1 else { continue }
                result.append((text(slot >= 64 ? .max : (1 << UInt64(slot)) - 1), running))
            }
        case .linear, .steps:
            for bucket in histogram.buckets {
                running &+= bucket.count
                result.append((text(bucket.high), running))
            }
        }
        return result
    }
}
