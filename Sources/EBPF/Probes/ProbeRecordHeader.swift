import EBPFProgram

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

    /// Where each member starts, and where the event's own fields start (`end`): literal
    /// constants, so ``ProbeEvent`` reads a member on every event without first running a
    /// lazily initialised global. The generated C asserts each offset (`_Static_assert`).
    enum Offset {
        static let timestamp = 0
        static let processID = 8
        static let threadID = 12
        static let userID = 16
        static let groupID = 20
        static let cpu = 24
        static let probeIndex = 28
        static let processName = 32
        static let cgroupID = 48
        static let end = 56
    }

    static let timestamp = member("timestamp", "u64", .unsigned, fill: "bpf_ktime_get_ns()", at: Offset.timestamp)
    static let processID = member("pid", "u32", .unsigned, fill: "ebpf_id >> 32", at: Offset.processID)
    static let threadID = member("tid", "u32", .unsigned, fill: "(u32)ebpf_id", at: Offset.threadID)
    static let userID = member("uid", "u32", .unsigned, fill: "(u32)ebpf_ugid", at: Offset.userID)
    static let groupID = member("gid", "u32", .unsigned, fill: "ebpf_ugid >> 32", at: Offset.groupID)
    static let cpu = member("cpu", "u32", .unsigned, fill: "bpf_get_smp_processor_id()", at: Offset.cpu)
    /// Which of the probes attached together, sharing one perf buffer, made the record.
    static let probeIndex = member("probe", "u32", .unsigned, fill: "ebpf_probe_index", at: Offset.probeIndex)
    static let processName = Member(
        layout: FieldLayout(
            name: "comm", offset: Offset.processName, elementSize: 1, count: Offset.cgroupID - Offset.processName,
            kind: .character),
        cType: "char", fill: "__builtin_memcpy(&e->comm, ebpf_comm, sizeof(ebpf_comm));")
    /// The thread's cgroup v2 id (`bpf_get_current_cgroup_id`, Linux 4.18).
    static let cgroupID = member("cgroup", "u64", .unsigned, fill: "bpf_get_current_cgroup_id()", at: Offset.cgroupID)

    /// Every member, in record order.
    static let members = [timestamp, processID, threadID, userID, groupID, cpu, probeIndex, processName, cgroupID]

    /// A scalar member at `offset`, sized by its C type (`u32`: 4 bytes).
    private static func member(
        _ name: String, _ cType: String, _ kind: FieldLayout.Kind, fill value: String, at offset: Int
    ) -> Member {
        Member(
            layout: FieldLayout(name: name, offset: offset, elementSize: Int(cType.dropFirst())! / 8, kind: kind),
            cType: cType, fill: "e->\(name) = \(value);")
    }
}
