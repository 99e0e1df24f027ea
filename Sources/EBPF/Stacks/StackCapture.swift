/// Which stacks a generated probe records with each event, as bpftrace's `kstack` and
/// `ustack`: `ProbeOptions(stacks: .user)`.
///
/// Each stack is walked in the kernel when the event happens (`bpf_get_stackid`) and kept
/// in a stack table; user stacks are walked by frame pointer, which Swift keeps on Linux
/// (code built with `-fomit-frame-pointer` shows only its innermost frame). Recording a
/// stack makes a tracepoint probe compiled rather than emitted.
public struct StackCapture: Sendable, Hashable {
    /// The kernel's stack: the functions that led to the event inside the kernel.
    public var kernel: Bool
    /// The thread's user-space stack.
    public var user: Bool
    /// The most frames kept of each stack, innermost first, 1 to 127 (the kernel's
    /// `PERF_MAX_STACK_DEPTH`, ``maximumDepth``).
    public var maxDepth: Int

    /// The most frames a stack keeps: the kernel's `PERF_MAX_STACK_DEPTH`, 127.
    public static let maximumDepth = 127

    public init(kernel: Bool = false, user: Bool = false, maxDepth: Int = maximumDepth) {
        self.kernel = kernel
        self.user = user
        self.maxDepth = maxDepth
    }

    /// No stack: the default.
    public static let none = StackCapture()
    /// The user-space stack.
    public static let user = StackCapture(user: true)
    /// The kernel's stack.
    public static let kernel = StackCapture(kernel: true)
    /// Both stacks.
    public static let both = StackCapture(kernel: true, user: true)

    var isEmpty: Bool { !kernel && !user }

    func validate() throws(EBPFError) {
        guard (1...Self.maximumDepth).contains(maxDepth) else {
            throw EBPFError(
                .invalidArgument, "maxDepth \(maxDepth) must be between 1 and \(Self.maximumDepth) frames")
        }
    }
}
