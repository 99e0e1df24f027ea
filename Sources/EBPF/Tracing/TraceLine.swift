/// One line of the kernel's trace pipe, split into its fields as bcc's `trace_fields()` does.
///
/// A `bpf_trace_printk("x=%d\n", x)` in a BPF program shows up as a line like
/// `bash-1234 [001] d..31 5306.131713: bpf_trace_printk: x=7`.
public struct TraceLine: Sendable, Hashable, CustomStringConvertible {
    /// The name of the task (thread) that was running.
    public var task: String
    /// Its thread id (the kernel's pid).
    public var pid: Int32
    /// The CPU it ran on.
    public var cpu: Int
    /// The irq/preemption flags column (`d..31`).
    public var flags: String
    /// Seconds since boot, from the trace clock.
    public var timestamp: Double
    /// The text the program printed, without the `bpf_trace_printk:` prefix.
    public var message: String

    public init(task: String, pid: Int32, cpu: Int, flags: String, timestamp: Double, message: String) {
        self.task = task
        self.pid = pid
        self.cpu = cpu
        self.flags = flags
        self.timestamp = timestamp
        self.message = message
    }

    /// Parses a trace pipe line; nil for lines that are not events (such as the
    /// `CPU:1 [LOST 5 EVENTS]` notices).
    public init?(parsing line: String) {
        // TASK-PID [(TGID)] [CPU] FLAGS TIMESTAMP: FUNCTION: MESSAGE
        let pattern =
            #/^\s*(?<task>.*?)-(?<pid>\d+)\s+(?:\(\s*[\d-]+\)\s+)?\[(?<cpu>\d+)\]\s+(?:(?<flags>\S+)\s+)?(?<ts>\d+\.\d+):\s?(?<rest>.*)$/#
        guard let match = line.wholeMatch(of: pattern),
            let pid = Int32(match.pid), let cpu = Int(match.cpu), let timestamp = Double(match.ts)
        else { return nil }
        var message = Substring(match.rest)
        if let separator = message.firstRange(of: ": ") {
            message = message[separator.upperBound...]
        }
        self.init(
            task: String(match.task), pid: pid, cpu: cpu, flags: String(match.flags ?? ""),
            timestamp: timestamp, message: String(message))
    }

    public var description: String {
        "\(task)-\(pid) [\(cpu)] \(flags) \(timestamp): \(message)"
    }
}
