import EBPF

/// Turns events into output lines: JSON Lines for machines, an aligned table for people.
enum OutputFormat: String, CaseIterable, Sendable {
    case table, json
}

struct EventFormatter: Sendable {
    let format: OutputFormat

    var header: String? {
        format == .table
            ? [
                pad("TIME(s)", 14), pad("EVENT", 24), pad("COMM", 16), pad("PID", 7), pad("TID", 7), pad("UID", 6),
                "FIELDS",
            ].joined(separator: " ")
            : nil
    }

    func line(for event: ProbeEvent) -> String {
        switch format {
        case .table:
            let seconds = Double(event.timestamp) / 1e9
            let fields = event.fields.map { "\($0.name)=\($0.value)" }.joined(separator: " ")
            return [
                pad(String(format: seconds), 14), pad(event.eventName, 24), pad(event.processName, 16),
                pad(String(event.processID), 7), pad(String(event.threadID), 7), pad(String(event.userID), 6), fields,
            ].joined(separator: " ")
        case .json:
            var object: [(String, String)] = [
                ("event", JSON.string(event.eventName)),
                ("timestamp_ns", String(event.timestamp)),
                ("pid", String(event.processID)),
                ("tid", String(event.threadID)),
                ("uid", String(event.userID)),
                ("gid", String(event.groupID)),
                ("cpu", String(event.cpu)),
                ("comm", JSON.string(event.processName)),
            ]
            let fields = event.fields.map { ($0.name, JSON.value($0.value)) }
            object.append(("fields", JSON.object(fields)))
            return JSON.object(object)
        }
    }

    private func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }
}

extension String {
    /// Seconds with microsecond precision, without Foundation.
    init(format seconds: Double) {
        let micros = Int((seconds * 1e6).rounded())
        let fraction = String(micros % 1_000_000)
        self = "\(micros / 1_000_000)." + String(repeating: "0", count: 6 - fraction.count) + fraction
    }
}

/// Just enough JSON writing for flat event objects, with full string escaping.
enum JSON {
    static func object(_ members: [(String, String)]) -> String {
        "{" + members.map { string($0.0) + ":" + $0.1 }.joined(separator: ",") + "}"
    }

    static func value(_ value: FieldValue) -> String {
        switch value {
        case .signed(let number): return String(number)
        case .unsigned(let number): return String(number)
        case .boolean(let flag): return String(flag)
        case .floatingPoint(let number): return number.isFinite ? String(number) : "null"
        case .array(let values): return "[" + values.map(Self.value).joined(separator: ",") + "]"
        case .string, .pointer, .bytes, .socketAddress: return string(value.description)
        }
    }

    static func string(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
