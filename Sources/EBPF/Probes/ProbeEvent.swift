/// One event of a closure probe: who caused it, when, and the event's own fields by name.
///
/// ```swift
/// try b.attachSyscall("bind") { event in
///     print(event.processName, event.processID, event.fd?.intValue ?? -1, event.umyaddr?.description ?? "-")
/// }
/// ```
///
/// Fields are named as in the tracepoint's format file (`fd`, `umyaddr`, `filename`). A
/// field whose name is also a property here (`cpu`, `timestamp`) is reached with
/// `event["cpu"]`.
@dynamicMemberLookup
public struct ProbeEvent: Sendable, CustomStringConvertible {
    /// The event's name: `syscalls:sys_enter_bind`, `kprobe:__x64_sys_bind`.
    public let eventName: String
    /// Nanoseconds since boot (`CLOCK_MONOTONIC`, `bpf_ktime_get_ns`), when the probe ran.
    public let timestamp: UInt64
    /// The process (thread group) id.
    public let processID: Int32
    /// The thread id (the kernel's pid).
    public let threadID: Int32
    public let userID: UInt32
    public let groupID: UInt32
    /// The CPU the probe ran on.
    public let cpu: Int
    /// The thread's name (`comm`), at most 15 bytes.
    public let processName: String
    let record: EventRecord

    init(eventName: String, layout: RecordLayout, bytes raw: UnsafeRawBufferPointer) {
        self.eventName = eventName
        func unsigned(_ offset: Int, _ size: Int) -> UInt64 {
            raw.count >= offset + size ? FieldLayout.loadUnsigned(raw.baseAddress! + offset, size: size) : 0
        }
        timestamp = unsigned(0, 8)
        processID = Int32(truncatingIfNeeded: unsigned(8, 4))
        threadID = Int32(truncatingIfNeeded: unsigned(12, 4))
        userID = UInt32(truncatingIfNeeded: unsigned(16, 4))
        groupID = UInt32(truncatingIfNeeded: unsigned(20, 4))
        cpu = Int(unsigned(24, 4))
        processName = ProbeProgram.headerFields[6].decode(from: raw)?.stringValue ?? ""
        record = EventRecord(layout: layout, bytes: Array(raw))
    }

    /// The field called `name`, or nil when the event has no such field.
    public subscript(name: String) -> FieldValue? { record[name] }

    public subscript(dynamicMember name: String) -> FieldValue? { record[name] }

    /// The event's own fields with their values, in the format file's order.
    public var fields: [(name: String, value: FieldValue)] { record.fields }

    public var description: String {
        let own = fields.map { "\($0.name)=\($0.value)" }.joined(separator: " ")
        return "\(eventName) \(processName) pid=\(processID) tid=\(threadID) uid=\(userID)" + (own.isEmpty ? "" : " " + own)
    }
}
