import Synchronization

/// A program attached to a kernel event; detaching it stops the program running there.
///
/// Returned by every `attach…` call. The wrapper also keeps track of it, so
/// ``EBPFWrapper/detachAll()`` and ``EBPFWrapper/close()`` detach it too. Dropping the handle
/// does not detach: probes are kernel-global state and live until detached or until the
/// wrapper is closed or deinitialized.
public final class Attachment: Sendable, CustomStringConvertible {
    /// The kind of kernel hook.
    public struct Kind: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        public static let kprobe = Kind(rawValue: "kprobe")
        public static let kretprobe = Kind(rawValue: "kretprobe")
        public static let tracepoint = Kind(rawValue: "tracepoint")
        public static let rawTracepoint = Kind(rawValue: "raw tracepoint")
        public static let uprobe = Kind(rawValue: "uprobe")
        public static let uretprobe = Kind(rawValue: "uretprobe")
        /// A USDT probe: a uprobe at each of its sites, its semaphore raised while attached.
        public static let usdt = Kind(rawValue: "usdt")
        public static let perfEvent = Kind(rawValue: "perf event")
        /// fentry: a tracing program at a kernel function's entry.
        public static let kfunc = Kind(rawValue: "fentry")
        /// fexit: a tracing program at a kernel function's return.
        public static let kretfunc = Kind(rawValue: "fexit")
    }

    public let kind: Kind
    /// What it is attached to: `syscalls:sys_enter_bind`, `__x64_sys_bind`,
    /// `/usr/lib/x86_64-linux-gnu/libc.so.6:getpid`, `software:cpu-clock`.
    public let target: String
    /// The BPF function that runs on the event.
    public let functionName: String
    /// What the attach created in the kernel; nil once detached.
    private let hook: Lock<LibBCC.Hook?>
    private let attached = Atomic<Bool>(true)

    init(kind: Kind, target: String, functionName: String, hook: consuming LibBCC.Hook) {
        self.kind = kind
        self.target = target
        self.functionName = functionName
        self.hook = Lock(Optional(hook))
    }

    /// Whether the program still runs on the event.
    public var isAttached: Bool { attached.load(ordering: .acquiring) }

    /// Detaches the program from the event. Idempotent.
    public func detach() {
        attached.store(false, ordering: .releasing)
        // Taken out under the lock, detached outside it.
        let taken = hook.withLock { $0.take() }
        if let taken { taken.detach() }
    }

    public var description: String {
        "Attachment(\(kind) \(target) -> \(functionName)\(isAttached ? "" : ", detached"))"
    }
}
