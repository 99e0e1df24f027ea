import EBPFProgram

/// The stacks recorded with one event.
struct RecordedStacks: Sendable {
    var kernel: [StackFrame]?
    var user: [StackFrame]?
}

/// One event of a closure probe: who caused it, when, and the event's own fields by name.
///
/// ```swift
/// try b.attach(.syscall("bind")) { event in
///     print(event.processName, event.processID, event.fd?.intValue ?? -1, event.umyaddr?.description ?? "-")
/// }
/// ```
///
/// Fields are named as in the tracepoint's format file (`fd`, `umyaddr`, `filename`). A
/// field whose name is also a property here (`cpu`, `timestamp`) is reached with
/// `event["cpu"]`.
@dynamicMemberLookup
public struct ProbeEvent: Sendable, CustomStringConvertible {
    // The record (header and fields) as the kernel delivered it; the properties below read
    // it on demand, so receiving an event costs one copy of its bytes (kept inline up to 64
    // bytes; larger ones reuse the last event's storage when the handler kept no copy).
    let record: EventRecord
    /// The stacks the probe recorded with the event, named; nil when it records none.
    var recordedStacks: RecordedStacks?

    @inline(__always)
    init(layout: RecordLayout, bytes: UnsafeRawBufferPointer, recycler: borrowing RecordStorageRecycler? = nil) {
        record = EventRecord(layout: layout, bytes: bytes, recycler: recycler)
    }

    /// `read` of this event's record, where its bytes are kept.
    @inline(__always)
    private func reading<T>(_ read: (ProbeRecordReader) -> T) -> T {
        record.withBytes { read(ProbeRecordReader(layout: Unmanaged.passUnretained(record.layout), bytes: $0)) }
    }

    /// The event's name: `syscalls:sys_enter_bind`, `kprobe:__x64_sys_bind`.
    public var eventName: String { record.layout.eventName }
    /// Nanoseconds since boot (`CLOCK_MONOTONIC`, `bpf_ktime_get_ns`), when the probe ran.
    public var timestamp: UInt64 { reading { $0.timestamp } }
    /// The process (thread group) id.
    public var processID: Int32 { reading { $0.processID } }
    /// The thread id (the kernel's pid).
    public var threadID: Int32 { reading { $0.threadID } }
    public var userID: UInt32 { reading { $0.userID } }
    public var groupID: UInt32 { reading { $0.groupID } }
    /// The CPU the probe ran on.
    public var cpu: Int { reading { $0.cpu } }
    /// The thread's name (`comm`), at most 15 bytes.
    public var processName: String { reading { $0.processName } }
    /// The thread's cgroup v2 id, as bpftrace's `cgroup`: ``CgroupResolver`` names it, and
    /// ``ProbeFilter/cgroup`` selects by it.
    public var cgroupID: UInt64 { reading { $0.cgroupID } }

    /// Which of the probes attached together made the event (its position in the list).
    var probeIndex: Int { reading { $0.probeIndex } }

    /// The thread's user-space stack when the event happened, innermost frame first, when
    /// the probe records it (``ProbeOptions/stacks``); nil when it does not. Empty when the
    /// stack could not be recorded (``Probe/stackFailures()`` counts why).
    public var userStack: [StackFrame]? { recordedStacks?.user }

    /// The kernel's stack when the event happened, innermost frame first, when the probe
    /// records it; nil when it does not.
    public var kernelStack: [StackFrame]? { recordedStacks?.kernel }

    /// The field called `name`, or nil when the event has no such field.
    public subscript(name: String) -> FieldValue? { record.decodedField(named: name) }

    public subscript(dynamicMember name: String) -> FieldValue? { record.decodedField(named: name) }

    /// The event's own fields with their values, in the format file's order.
    public var fields: [RecordField] { record.fields }

    public var description: String {
        let own = fields.map { "\($0.name)=\($0.value)" }.joined(separator: " ")
        return "\(eventName) \(processName) pid=\(processID) tid=\(threadID) uid=\(userID)"
            + (own.isEmpty ? "" : " " + own)
    }
}
