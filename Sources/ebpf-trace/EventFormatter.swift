import EBPF
import CommandLineSupport

/// Turns events into output lines: JSON Lines for machines, an aligned table for people.
/// Text from traced processes is escaped in both, so it cannot drive a terminal or forge a
/// line.
enum OutputFormat: String, CaseIterable, Sendable {
    case table, json
}

struct EventFormatter: Sendable {
    let format: OutputFormat
    /// Fields left out of every line: execve's `envp` unless asked for, as execsnoop does
    /// (twenty variables of a shell's environment on each line bury the command).
    let hiddenFields: Set<String>
    /// Names each event's cgroup.
    let cgroups = CgroupResolver()

    /// The path of the event's cgroup, or its id when no walk of the hierarchy found it.
    private func cgroupPath(of event: ProbeEvent) -> String {
        let id = event.cgroupID
        return cgroups.cgroup(id: id)?.path ?? String(id)
    }

    var header: String? {
        format == .table
            ? [
                "TIME(s)".padded(14), "EVENT".padded(24), "COMM".padded(16), "PID".padded(7), "TID".padded(7),
                "UID".padded(6), "CGROUP".padded(24), "FIELDS",
            ].joined(separator: " ")
            : nil
    }

    func line(for event: ProbeEvent) -> String {
        switch format {
        case .table:
            let seconds = Double(event.timestamp) / 1e9
            let fields = event.fields.filter { !hiddenFields.contains($0.name) }.map {
                "\($0.name)=\($0.value.description.terminalSafe)"
            }
            return [
                String(format: seconds).padded(14), event.eventName.padded(24),
                event.processName.terminalSafe.padded(16),
                String(event.processID).padded(7), String(event.threadID).padded(7), String(event.userID).padded(6),
                cgroupPath(of: event).terminalSafe.padded(24), fields.joined(separator: " "),
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
                ("cgroup_id", String(event.cgroupID)),
                ("cgroup", JSON.string(cgroupPath(of: event))),
            ]
            let fields = event.fields.filter { !hiddenFields.contains($0.name) }.map { ($0.name, JSON.value($0.value)) }
            object.append(("fields", JSON.object(fields)))
            return JSON.object(object)
        }
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

/// Just enough JSON writing for flat event objects, with full string escaping: beyond what
/// JSON requires, DEL, the C1 controls and bidirectional overrides are escaped too, so the
/// lines are safe to read on a terminal.
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
        let escaped = text.escapingTerminalControls(quoting: ["\""]) { scalar in
            let hex = String(scalar.value, radix: 16)
            return "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        }
        return "\"" + escaped + "\""
    }
}
