/// x86-64 syscall numbers and names, from the table the library routes syscall probes by
/// (Linux 6.12's `unistd_64.h`): for naming `raw_syscalls:sys_enter`'s `id` or an
/// aggregation keyed by it, as bcc's `syscall_name`. Names are as the syscalls' tracepoints
/// spell them (`newuname` for `uname`), the names ``AttachPoint/syscall(_:)`` takes.
public enum SyscallNames {
    /// The syscall numbered `number`, or nil when the table has none (newer than 6.12).
    public static func name(number: Int) -> String? { names[number] }

    /// The number of the syscall `name`, or nil when the table has none.
    public static func number(named name: String) -> Int? { SyscallNumbers.x86_64[name] }

    private static let names = Dictionary(SyscallNumbers.x86_64.map { ($0.value, $0.key) }) { first, _ in first }
}
