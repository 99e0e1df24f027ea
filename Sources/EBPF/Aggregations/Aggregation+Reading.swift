import EBPFKernel

extension Aggregation {
    /// The statistics as a table: a header, then one line per key, the largest count first
    /// (the `top` largest only, when given).
    ///
    /// ```
    /// comm             count
    /// cat                 12
    /// ```
    ///
    /// A histogram aggregation prints each key's histogram as bcc's `print_log2_hist` does,
    /// under a `key = value` line.
    public func text(top: Int? = nil) throws(EBPFError) -> String {
        Self.text(
            of: try snapshot(), keyName: program.key?.description ?? "",
            field: program.isHistogram ? program.histogramValueName : program.field, top: top)
    }

    /// `entries` as ``text(top:)`` lays them out; `field` names the aggregated field (for a
    /// histogram, its values).
    public static func text(of entries: [Entry], keyName: String, field: String?, top: Int? = nil) -> String {
        let shown = top.map { Array(entries.prefix(Swift.max(0, $0))) } ?? entries
        if shown.contains(where: { $0.histogram != nil }) {
            return histogramText(of: shown, keyName: keyName, valueName: field ?? "value")
        }
        if shown.contains(where: { $0.key?.stringsValue != nil }) {
            return stackText(of: shown, field: field)
        }
        var header = ["count"]
        if let field { header += ["sum(\(field))", "min", "max", "avg"] }
        let rows = shown.map { entry -> [String] in
            var row = [String(entry.count)]
            if field != nil {
                row += [entry.sum, entry.min, entry.max].map { $0.map(String.init) ?? "-" }
                row.append(entry.average.map(Self.oneDecimal) ?? "-")
            }
            return row
        }
        let keys = shown.map { $0.key?.description ?? "" }
        let keyWidth = ([keyName] + keys).map(\.count).max() ?? 0
        let widths = header.indices.map { column in ([header[column]] + rows.map { $0[column] }).map(\.count).max() ?? 0
        }
        func line(_ key: String, _ cells: [String]) -> String {
            let padded = key + String(repeating: " ", count: keyWidth - key.count)
            let numbers = zip(cells, widths).map { String(repeating: " ", count: $1 - $0.count) + $0 }
            return (keyName.isEmpty && keys.allSatisfy(\.isEmpty) ? numbers : [padded] + numbers)
                .joined(separator: "  ")
        }
        return ([line(keyName, header)] + zip(keys, rows).map { line($0, $1) }).joined(separator: "\n")
    }

    /// Stack keys as bpftrace prints `@[ustack] = count()`: each stack's frames on lines of
    /// their own, innermost first, then its count (and statistics).
    private static func stackText(of entries: [Entry], field: String?) -> String {
        entries.map { entry in
            var lines = (entry.key?.stringsValue ?? []).map { "    " + $0 }
            var total = "count \(entry.count)"
            if field != nil, let sum = entry.sum, let low = entry.min, let high = entry.max {
                total += ", sum \(sum), min \(low), max \(high)"
            }
            lines.append(total)
            return lines.joined(separator: "\n")
        }.joined(separator: "\n\n")
    }

    /// Each entry's histogram, under a `key = value` line when there is a key, and how many
    /// values were outside its buckets when some were.
    private static func histogramText(of entries: [Entry], keyName: String, valueName: String) -> String {
        entries.map { entry in
            var lines: [String] = []
            if let key = entry.key { lines.append("\(keyName) = \(key)") }
            let histogram = entry.histogram?.text(valueType: valueName) ?? ""
            if !histogram.isEmpty { lines.append(histogram) }
            if entry.belowRangeCount > 0 {
                let below: String
                if case .steps(let from, _) = entry.histogram?.scale {
                    below = "below \(from)"
                } else {
                    below = "below zero"
                }
                lines.append("\(below): \(entry.belowRangeCount)")
            }
            if entry.aboveRangeCount > 0, case .steps(let from, let width) = entry.histogram?.scale {
                let top = from &+ UInt64(entry.histogram?.counts.count ?? 0) &* width
                lines.append("\(top) and above: \(entry.aboveRangeCount)")
            }
            return lines.joined(separator: "\n")
        }.joined(separator: "\n\n")
    }

    /// `value` with one decimal, as `%.1f` prints it.
    static func oneDecimal(_ value: Double) -> String {
        let tenths = (abs(value) * 10).rounded()
        guard tenths < 1e18 else { return String(value) }
        let whole = Int64(tenths)
        return (value < 0 && whole != 0 ? "-" : "") + "\(whole / 10).\(whole % 10)"
    }

    /// Each interval's statistics (``take()`` every `interval`), until the aggregation is
    /// detached or closed, or the sequence is dropped. The first element comes one interval
    /// after iteration starts.
    public func intervals(every interval: Duration) -> AsyncThrowingStream<[Entry], any Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    while !Task.isCancelled {
                        try await Task.sleep(for: interval)
                        let wasAttached = isAttached
                        continuation.yield(try take())
                        if !wasAttached { break }
                    }
                    continuation.finish()
                } catch let error as EBPFError where error.code == .closed {
                    continuation.finish()
                } catch is CancellationError {
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}
