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
    /// Lent for the call: the probe's buffer keeps the layout for as long as it delivers.
    private let layout: Unmanaged<RecordLayout>
    private let bytes: UnsafeRawBufferPointer
    let recordedStacks: RecordedStacks?

    init(layout: RecordLayout, bytes: UnsafeRawBufferPointer, stacks: RecordedStacks? = nil) {
        self.layout = Unmanaged.passUnretained(layout)
        self.bytes = bytes
        self.recordedStacks = stacks
    }

    private func header<Value: FixedWidthInteger>(_: Value.Type, at offset: Int) -> Value {
        bytes.count >= offset + MemoryLayout<Value>.size
            ? bytes.loadUnaligned(fromByteOffset: offset, as: Value.self) : 0
    }

    /// The event's name: `syscalls:sys_enter_bind`, `kprobe:__x64_sys_bind`.
    public var eventName: String { layout._withUnsafeGuaranteedRef { $0.eventName } }
    /// Nanoseconds since boot (`CLOCK_MONOTONIC`, `bpf_ktime_get_ns`), when the probe ran.
    public var timestamp: UInt64 { header(UInt64.self, at: ProbeRecordHeader.Offset.timestamp) }
    /// The process (thread group) id.
    public var processID: Int32 { header(Int32.self, at: ProbeRecordHeader.Offset.processID) }
    /// The thread id (the kernel's pid).
    public var threadID: Int32 { header(Int32.self, at: ProbeRecordHeader.Offset.threadID) }
    public var userID: UInt32 { header(UInt32.self, at: ProbeRecordHeader.Offset.userID) }
    public var groupID: UInt32 { header(UInt32.self, at: ProbeRecordHeader.Offset.groupID) }
    /// The CPU the probe ran on.
    public var cpu: Int { Int(header(UInt32.self, at: ProbeRecordHeader.Offset.cpu)) }
    /// The thread's name (`comm`), at most 15 bytes.
    public var processName: String {
        let (start, end) = (ProbeRecordHeader.Offset.processName, ProbeRecordHeader.Offset.end)
        guard bytes.count >= end else { return "" }
        return FieldLayout.cString(UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
    }

    /// Which of the probes attached together made the event (its position in the list).
    var probeIndex: Int { Int(header(UInt32.self, at: ProbeRecordHeader.Offset.probeIndex)) }

    /// The thread's user-space stack, innermost frame first, when the probe records it
    /// (``ProbeOptions/stacks``); nil when it does not.
    public var userStack: [StackFrame]? { recordedStacks?.user }

    /// The kernel's stack, innermost frame first, when the probe records it.
    public var kernelStack: [StackFrame]? { recordedStacks?.kernel }

    /// The field called `name`, or nil when the event has no such field.
    public subscript(name: String) -> FieldValue? {
        layout._withUnsafeGuaranteedRef { $0.decodedField(named: name, in: bytes) }
    }

    public subscript(dynamicMember name: String) -> FieldValue? {
        layout._withUnsafeGuaranteedRef { $0.decodedField(named: name, in: bytes) }
    }

    /// The event's own fields with their values, in the format file's order.
    public var fields: [RecordField] { layout._withUnsafeGuaranteedRef { $0.decodedFields(in: bytes) } }

    /// The event as a ``ProbeEvent``, which can be kept: its bytes copied out of the ring.
    public func copy() -> ProbeEvent {
        var event = layout._withUnsafeGuaranteedRef { ProbeEvent(layout: $0, bytes: bytes) }
        event.recordedStacks = recordedStacks
        return event
    }
}
