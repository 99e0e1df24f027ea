/// Tables and the targets (issues #4 and #12), as text.
enum Report {
    static func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
        guard text.count < width else { return text }
        let fill = String(repeating: " ", count: width - text.count)
        return right ? fill + text : text + fill
    }

    static func number(_ value: Double, _ digits: Int = 0) -> String {
        guard value.isFinite else { return "-" }
        if digits == 0 { return String(Int(value.rounded())) }
        let scale = Double((0..<digits).reduce(1) { acc, _ in acc * 10 })
        let rounded = (value * scale).rounded() / scale
        var text = String(rounded)
        if let dot = text.firstIndex(of: ".") {
            let decimals = text.distance(from: dot, to: text.endIndex) - 1
            text += String(repeating: "0", count: max(0, digits - decimals))
        }
        return text
    }

    static func ratio(_ value: Double, _ base: Double) -> String {
        base > 0 && value.isFinite ? number(value / base, 2) + "×" : "-"
    }

    /// One scenario's table, with ratios to the C consumer at the library's defaults.
    static func table(title: String, unprobed: Double, rows: [Measurement], c: Measurement?) -> String {
        var lines = ["", title, "no program attached: \(number(unprobed)) ns per syscall", ""]
        lines.append(
            "| consumer | delivered/s | lost | gaps | ns/syscall | CPU ns/event | allocations/event | peak RSS MB | start-up ms | ×C delivered/s | ×C ns/syscall | ×C CPU/event | ×C start-up |"
        )
        lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for row in rows {
            let cells = [
                row.consumer.label, number(row.eventsPerSecond), number(row.lost), number(row.gaps),
                number(row.nanosecondsPerSyscall), number(row.cpuNanosecondsPerEvent),
                row.allocationsPerEvent.map { number($0, 4) } ?? "–",
                number(Double(row.peakRSS) / 1_048_576, 1), number(row.startupMilliseconds, 1),
                ratio(row.eventsPerSecond, c?.eventsPerSecond ?? 0),
                ratio(row.nanosecondsPerSyscall, c?.nanosecondsPerSyscall ?? 0),
                ratio(row.cpuNanosecondsPerEvent, c?.cpuNanosecondsPerEvent ?? 0),
                ratio(row.startupMilliseconds, c?.startupMilliseconds ?? 0),
            ]
            lines.append("| " + cells.joined(separator: " | ") + " |")
        }
        return lines.joined(separator: "\n")
    }

    struct Target {
        let statement: String
        let measured: String
        let pass: Bool
    }

    static func targets(_ targets: [Target]) -> String {
        var lines = [
            "",
            "Targets (delivery: 64-byte records, the largest event count, library defaults; start-up: the table above):",
            "",
        ]
        lines.append("| target | measured | result |")
        lines.append("|---|---|---|")
        for target in targets {
            lines.append("| \(target.statement) | \(target.measured) | \(target.pass ? "PASS" : "FAIL") |")
        }
        let failed = targets.filter { !$0.pass }.count
        lines.append("")
        lines.append(failed == 0 ? "All \(targets.count) targets pass." : "\(failed) of \(targets.count) targets FAIL.")
        return lines.joined(separator: "\n")
    }
}
