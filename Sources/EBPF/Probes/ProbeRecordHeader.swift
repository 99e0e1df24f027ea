/// The fixed header at the start of every closure probe's record, described once.
///
/// The generated C struct's first members, the statements that fill them, the
/// `_Static_assert` on each offset, the layout the decoder reads and ``ProbeEvent``'s
/// accessors all come from this list: changing a member here changes all of them.
enum ProbeRecordHeader {
    /// One member: its C declaration, the C expression that fills it, and where Swift reads it.
    struct Member: Sendable {
        let layout: FieldLayout
        let cType: String
        /// Fills the member of the record `e` (the program's locals `ebpf_id`, `ebpf_ugid` and
        /// `ebpf_comm` hold the current task's ids and name, `ebpf_probe_index` the probe's
        /// position among the probes that share the perf buffer).
        let fill: String

        /// The member's declaration in `struct ebpf_event`.
        var declaration: String {
            layout.count.map { "\(cType) \(layout.name)[\($0)];" } ?? "\(cType) \(layout.name);"
        }
    }

    static let timestamp = member("timestamp", "u64", .unsigned, fill: "bpf_ktime_get_ns()", after: nil)
    static let processID = member("pid", "u32", .unsigned, fill: "ebpf_id >> 32", after: timestamp)
    static let threadID = member("tid", "u32", .unsigned, fill: "(u32)ebpf_id", after: processID)
    static let userID = member("uid", "u32", .unsigned, fill: "(u32)ebpf_ugid", after: threadID)
    static let groupID = member("gid", "u32", .unsigned, fill: "ebpf_ugid >> 32", after: userID)
    static let cpu = member("cpu", "u32", .unsigned, fill: "bpf_get_smp_processor_id()", after: groupID)
    /// Which of the probes attached together, sharing one perf buffer, made the record.
    static let probeIndex = member("probe", "u32", .unsigned, fill: "ebpf_probe_index", after: cpu)
    static let processName = Member(
        layout: FieldLayout(name: "comm", offset: end(of: probeIndex), elementSize: 1, count: 16, kind: .character),
        cType: "char", fill: "__builtin_memcpy(&e->comm, ebpf_comm, sizeof(ebpf_comm));")

    /// Every member, in record order.
    static let members = [timestamp, processID, threadID, userID, groupID, cpu, probeIndex, processName]

    /// Where the event's own fields start.
    static let size = end(of: processName)

    /// A scalar member placed after `previous` at its natural alignment.
    private static func member(
        _ name: String, _ cType: String, _ kind: FieldLayout.Kind, fill value: String, after previous: Member?
    ) -> Member {
        let size = Int(cType.dropFirst())! / 8
        let offset = SubmittedStructLayout.align(previous.map(end) ?? 0, to: size)
        return Member(
            layout: FieldLayout(name: name, offset: offset, elementSize: size, kind: kind), cType: cType,
            fill: "e->\(name) = \(value);")
    }

    private static func end(of member: Member) -> Int {
        member.layout.offset + member.layout.size
    }
}
