import EBPFKernel

/// Conditions a generated probe checks in the kernel before recording an event, so events
/// that fail them never reach user space. All given conditions must hold.
public struct ProbeFilter: Sendable, Hashable {
    /// Only events of this process (thread group id).
    public var processID: Int32?
    /// Only events of this thread.
    public var threadID: Int32?
    /// Only events of processes running as this user id.
    public var userID: UInt32?
    /// Only events of threads with this name (`comm`, at most 15 bytes, as `ps -o comm`).
    public var processName: String?
    /// Only events of tasks in this cgroup (v2) and, unless ``cgroupDescendants`` is false,
    /// in the cgroups below it, where a service's processes often are: a directory of the
    /// cgroup2 mount or a path from its root, as ``Cgroup/init(path:)`` takes. Looked up
    /// when the probe is built: a cgroup made again later under the name is another one.
    /// Linux 5.5 and later, where a cgroup's id is its directory's inode number. With
    /// descendants the program asks `bpf_current_task_under_cgroup` about a one-entry
    /// cgroup array, `ebpf_cgroup`, which the library fills before it attaches (a program's C
    /// text loaded elsewhere must store the cgroup there itself); alone, it
    /// compares `bpf_get_current_cgroup_id` with the cgroup's id.
    public var cgroup: String?
    /// Whether ``cgroup`` admits the cgroups below it too (the default) or only itself.
    public var cgroupDescendants: Bool

    /// The cgroup test the program makes, set by ``resolved()``: whether the task is in the
    /// cgroup at `directory` or below it (through a cgroup array holding it), or its
    /// cgroup's id is `id`.
    struct CgroupTest: Sendable, Hashable {
        let id: UInt64
        let directory: String
        let descendants: Bool
    }

    private(set) var cgroupTest: CgroupTest?

    public init(
        processID: Int32? = nil, threadID: Int32? = nil, userID: UInt32? = nil, processName: String? = nil,
        cgroup: String? = nil, cgroupDescendants: Bool = true
    ) {
        self.processID = processID
        self.threadID = threadID
        self.userID = userID
        self.processName = processName
        self.cgroup = cgroup
        self.cgroupDescendants = cgroupDescendants
    }

    /// The filter validated, its cgroup looked up.
    ///
    /// - Throws: what ``validate()`` and ``Cgroup/init(path:)`` throw.
    func resolved() throws(EBPFError) -> ProbeFilter {
        try validate()
        guard let cgroup else { return self }
        let found = try Cgroup(path: cgroup)
        var filter = self
        filter.cgroupTest = CgroupTest(
            id: found.id, directory: try found.directory(),
            descendants: cgroupDescendants)
        return filter
    }

    func validate() throws(EBPFError) {
        if let processID, processID <= 0 {
            throw EBPFError(.invalidArgument, "processID filter \(processID) is not a process id")
        }
        if let threadID, threadID <= 0 {
            throw EBPFError(.invalidArgument, "threadID filter \(threadID) is not a thread id")
        }
        if let processName {
            let bytes = Array(processName.utf8)
            guard !bytes.isEmpty, bytes.count <= 15, !bytes.contains(where: { $0 < 0x20 || $0 == 0x7F }) else {
                throw EBPFError(
                    .invalidArgument,
                    "processName filter \(NameValidation.quoted(processName)) must be 1 to 15 bytes without control characters: the kernel keeps 15 bytes of a thread's name"
                )
            }
        }
    }
}

/// How a generated probe copies data and buffers its events.
public struct ProbeOptions: Sendable, Hashable {
    /// Bytes copied for each string argument (`const char *`, `__data_loc char[]`),
    /// terminating NUL included; longer strings are cut. 1 to 4096.
    public var stringSize: Int
    /// The most strings read from an array of string pointers (`execve`'s `argv` and
    /// `envp`, `const char *const *`); the rest are left out. 1 to 64; bcc's execsnoop
    /// reads 20.
    public var stringArrayCount: Int
    /// Bytes copied for each string of such an array, NUL included. 1 to 4096, and at most
    /// 32 KiB for the whole array.
    public var stringArrayElementSize: Int
    /// The buffer the probe's events travel through: a BPF ring buffer or perf buffers.
    public var transport: EventTransport
    /// The perf buffer the probe's events travel through, when they do.
    public var perfBuffer: PerfBufferOptions
    /// Sockets and strings read behind the arguments.
    public var arguments: ArgumentReading
    /// The stacks recorded with each event (``ProbeEvent/userStack``,
    /// ``ProbeEvent/kernelStack``); none by default.
    public var stacks: StackCapture

    public init(
        stringSize: Int = 256, stringArrayCount: Int = 20, stringArrayElementSize: Int = 128,
        perfBuffer: PerfBufferOptions = .default, arguments: ArgumentReading = ArgumentReading(),
        stacks: StackCapture = .none, transport: EventTransport = .automatic
    ) {
        self.transport = transport
        self.stringSize = stringSize
        self.stringArrayCount = stringArrayCount
        self.stringArrayElementSize = stringArrayElementSize
        self.perfBuffer = perfBuffer
        self.arguments = arguments
        self.stacks = stacks
    }

    public static let `default` = ProbeOptions()

    func validate() throws(EBPFError) {
        guard (1...4096).contains(stringSize) else {
            throw EBPFError(.invalidArgument, "stringSize \(stringSize) must be between 1 and 4096 bytes")
        }
        guard (1...64).contains(stringArrayCount) else {
            throw EBPFError(.invalidArgument, "stringArrayCount \(stringArrayCount) must be between 1 and 64 strings")
        }
        guard (1...4096).contains(stringArrayElementSize), stringArrayCount * stringArrayElementSize <= 32_768 else {
            throw EBPFError(
                .invalidArgument,
                "stringArrayElementSize \(stringArrayElementSize) must be between 1 and 4096 bytes, and at most 32768 bytes for the \(stringArrayCount) strings"
            )
        }
        try perfBuffer.validate()
        try stacks.validate()
    }
}
