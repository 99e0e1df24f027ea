import Synchronization
import EBPFKernel

/// A program attached to a kernel event; detaching it stops the program running there.
///
/// Returned by ``EBPFWrapper/attach(function:to:)`` and its siblings. The wrapper also keeps
/// track of it, so ``EBPFWrapper/close()`` detaches it too. Dropping the handle
/// does not detach: probes are kernel-global state and live until detached or until the
/// wrapper is closed or deinitialized.
public final class Attachment: Sendable, CustomStringConvertible {
    /// Where the program runs: `tracepoint:syscalls:sys_enter_bind`, `kprobe:__x64_sys_bind`,
    /// `uprobe:/usr/lib/x86_64-linux-gnu/libc.so.6:getpid`, `software:cpu-clock:99hz`; a
    /// library name or a USDT probe as the binary it was found in, a syscall (`syscall:bind`)
    /// as its tracepoint.
    public let point: AttachPoint
    /// The BPF function that runs on the event.
    public let functionName: String
    /// What the attach created in the kernel; nil once detached.
    private let hook: Lock<LibBCC.Hook?>
    private let attached = Atomic<Bool>(true)

    init(point: AttachPoint, functionName: String, hook: consuming LibBCC.Hook) {
        self.point = point
        self.functionName = functionName
        self.hook = Lock(Optional(hook))
    }

    /// Whether the program still runs on the event.
    public var isAttached: Bool { attached.load(ordering: .acquiring) }

    /// Runs `body` with the hook, under the lock.
    ///
    /// - Throws: ``EBPFError/Code/closed`` once detached, and what `body` throws.
    func withHook<T>(_ body: (borrowing LibBCC.Hook) throws(EBPFError) -> T) throws(EBPFError) -> T {
        try hook.withLock { (hook) throws(EBPFError) -> T in
            switch hook {
            case .some(let held): return try body(held)
            case .none: throw EBPFError(.closed, "\(point) was detached; attach it again")
            }
        }
    }

    /// Detaches the program from the event. Idempotent.
    public func detach() {
        attached.store(false, ordering: .releasing)
        // Taken out under the lock, detached outside it.
        let taken = hook.withLock { $0.take() }
        if let taken { taken.detach() }
    }

    /// Detaches every one of `attachments` at once. Closing a tracepoint's perf event waits
    /// out a kernel grace period (about 70 ms here); closed from threads of their own, the
    /// waits overlap as far as the kernel lets them. Idempotent.
    static func detachTogether(_ attachments: [Attachment]) {
        concurrentlyForEach(attachments.filter(\.isAttached)) { $0.detach() }
    }

    public var description: String {
        "Attachment(\(point) -> \(functionName)\(isAttached ? "" : ", detached"))"
    }
}
