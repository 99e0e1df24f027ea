/// The stack table a generated program records stacks in, the per-CPU count of stacks it
/// could not record, and the C that records one: each stack is kept once, by id, however
/// many events share it.
enum StackTable {
    static let name = "ebpf_stacks"
    static let failuresName = "ebpf_stack_failures"
    /// Distinct stacks kept (bpftrace's and bcc's `profile` default); a stack whose hash
    /// lands on a bucket another stack holds is counted as a collision, not recorded.
    static let entries = 16_384

    /// The table of stacks of at most `depth` frames, and the failure counts: collisions
    /// (`-EEXIST`), faults (`-EFAULT`: no user stack, as in a kernel thread) and others.
    static func declarations(depth: Int) -> [String] {
        [
            "struct ebpf_stack_frames { u64 ip[\(depth)]; };",
            "BPF_TABLE(\"stacktrace\", int, struct ebpf_stack_frames, \(name), \(entries));",
            "BPF_PERCPU_ARRAY(\(failuresName), u64, 3);",
        ]
    }

    /// The instruction addresses a stack table's value holds, innermost first, at most
    /// `depth` of them (the kernel ends a shorter stack with zeros).
    static func addresses(in value: [UInt8], depth: Int = StackCapture.maximumDepth) -> [UInt64] {
        var addresses: [UInt64] = []
        value.withUnsafeBytes { raw in
            for index in 0..<min(raw.count / 8, depth) {
                let address = raw.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self)
                if address == 0 { break }
                addresses.append(address)
            }
        }
        return addresses
    }

    /// Statements that store the id of the current kernel or `user` stack in `destination`
    /// (negative when it could not be recorded, the failure counted).
    static func record(into destination: String, user: Bool) -> [String] {
        let flags = user ? "BPF_F_USER_STACK" : "0"
        return [
            "\(destination) = \(name).get_stackid(ctx, \(flags));",
            "if (\(destination) < 0) {",
            "    u32 ebpf_failure = \(destination) == -17 ? 0 : \(destination) == -14 ? 1 : 2;",
            "    u64 *ebpf_failures = \(failuresName).lookup(&ebpf_failure);",
            "    if (ebpf_failures) *ebpf_failures += 1;",
            "}",
        ]
    }
}

/// Stacks a probe or an aggregation could not record, counted in the kernel: none is
/// dropped silently.
public struct StackFailures: Sendable, Hashable {
    /// Stacks not recorded because another stack held their slot of the table (`-EEXIST`).
    public var collisions: UInt64
    /// Stacks that could not be read (`-EFAULT`): a user stack where the thread has none,
    /// as in kernel threads.
    public var faults: UInt64
    /// Any other failure.
    public var other: UInt64

    public init(collisions: UInt64 = 0, faults: UInt64 = 0, other: UInt64 = 0) {
        self.collisions = collisions
        self.faults = faults
        self.other = other
    }
}
