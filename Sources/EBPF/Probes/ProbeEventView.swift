import EBPFProgram

/// One event of a closure probe, read where the kernel wrote it: lent to the closure of
/// ``EBPFWrapper/attachBorrowing(_:filter:options:lost:handler:)-(AttachPoint,_,_,_,_)``
/// for the call, and never copied.
///
/// ```swift
/// try b.attachBorrowing(.syscall("openat")) { event in
///     if event.flags?.intValue == 0 { print(event.processName, event.filename ?? "-") }
/// }
/// ```
///
/// It cannot be copied, stored or sent out of the closure (the compiler refuses it): its
/// bytes are the ring's, and the kernel reuses them once the closure returns. What must be
/// kept is copied out: a field's value, or the whole event with ``copy()``. It offers what
/// ``ProbeEvent`` offers.
@dynamicMemberLookup
public struct ProbeEventView: ~Copyable {
    private let record: ProbeRecordReader
    let recordedStacks: RecordedStacks?

    init(layout: Unmanaged<RecordLayout>, bytes: UnsafeRawBufferPointer, stacks: RecordedStacks? = nil) {
        record = ProbeRecordReader(layout: layout, bytes: bytes)
        recordedStacks = stacks
    }

    /// The event's name: `syscalls:sys_enter_bind`, `kprobe:__x64_sys_bind`.
    public var eventName: String { record.eventName }
    /// Nanoseconds since boot (`CLOCK_MONOTONIC`, `bpf_ktime_get_ns`), when the probe ran.
    public var timestamp: UInt64 { record.timestamp }
    /// The process (thread group) id.
    public var processID: Int32 { record.processID }
    /// The thread id (the kernel's pid).
    public var threadID: Int32 { record.threadID }
    public var userID: UInt32 { record.userID }
    public var groupID: UInt32 { record.groupID }
    /// The CPU the probe ran on.
    public var cpu: Int { record.cpu }
    /// The thread's name (`comm`), at most 15 bytes.
    public var processName: String { record.processName }
    /// The thread's cgroup v2 id (``CgroupResolver`` names it).
    public var cgroupID: UInt64 { record.cgroupID }

    /// Which of the probes attached together made the event (its position in the list).
    var probeIndex: Int { record.probeIndex }

    /// The thread's user-space stack, innermost frame first, when the probe records it
    /// (``ProbeOptions/stacks``); nil when it does not.
    public var userStack: [StackFrame]? { recordedStacks?.user }

    /// The kernel's stack, innermost frame first, when the probe records it.
    public var kernelStack: [StackFrame]? { recordedStacks?.kernel }

    /// The field called `name`, or nil when the event has no such field.
    public subscript(name: String) -> FieldValue? { record.field(named: name) }

    public subscript(dynamicMember name: String) -> FieldValue? { record.field(named: name) }

    /// The event's own fields with their values, in the format file's order.
    public var fields: [RecordField] { record.fields }

    /// The event as a ``ProbeEvent``, which can be kept: its bytes copied out of the ring.
    public func copy() -> ProbeEvent {
        var event = record.copy()
        event.recordedStacks = recordedStacks
        return event
    }
}

/// Reads a probe's record (``ProbeRecordHeader``, then its fields) where its bytes are: for
/// ``ProbeEvent`` (a copy) and ``ProbeEventView`` (in the ring) alike.
struct ProbeRecordReader {
    /// Kept alive by the record's owner (an interned layout is never freed); borrowed
    /// without reference counting, on every event's path.
    private let layout: Unmanaged<RecordLayout>
    private let bytes: UnsafeRawBufferPointer

    init(layout: Unmanaged<RecordLayout>, bytes: UnsafeRawBufferPointer) {
        self.layout = layout
        self.bytes = bytes
    }

    private func header<Value: FixedWidthInteger>(_: Value.Type, at offset: Int) -> Value {
        bytes.count >= offset + MemoryLayout<Value>.size
            ? bytes.loadUnaligned(fromByteOffset: offset, as: Value.self) : 0
    }

    var timestamp: UInt64 { header(UInt64.self, at: ProbeRecordHeader.Offset.timestamp) }
    var processID: Int32 { header(Int32.self, at: ProbeRecordHeader.Offset.processID) }
    var threadID: Int32 { header(Int32.self, at: ProbeRecordHeader.Offset.threadID) }
    var userID: UInt32 { header(UInt32.self, at: ProbeRecordHeader.Offset.userID) }
    var groupID: UInt32 { header(UInt32.self, at: ProbeRecordHeader.Offset.groupID) }
    var cpu: Int { Int(header(UInt32.self, at: ProbeRecordHeader.Offset.cpu)) }
    var probeIndex: Int { Int(header(UInt32.self, at: ProbeRecordHeader.Offset.probeIndex)) }
    var cgroupID: UInt64 { header(UInt64.self, at: ProbeRecordHeader.Offset.cgroupID) }
    var processName: String {
        let (start, end) = (ProbeRecordHeader.Offset.processName, ProbeRecordHeader.Offset.cgroupID)
        guard bytes.count >= end else { return "" }
        return FieldLayout.cString(UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
    }

    var eventName: String { layout._withUnsafeGuaranteedRef { $0.eventName } }

    @inline(__always)
    func field(named name: String) -> FieldValue? {
        layout._withUnsafeGuaranteedRef { $0.decodedField(named: name, in: bytes) }
    }

    var fields: [RecordField] { layout._withUnsafeGuaranteedRef { $0.decodedFields(in: bytes) } }

    /// The record as a ``ProbeEvent``, its bytes copied.
    func copy() -> ProbeEvent {
        layout._withUnsafeGuaranteedRef { ProbeEvent(layout: $0, bytes: bytes) }
    }
}
