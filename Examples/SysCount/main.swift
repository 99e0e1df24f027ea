// syscount: system calls per process, counted in the kernel in a BPF_HASH and printed as a
// top list every second, as bcc's syscount -P.
//
//   swift run syscount [--syscall NAME] [--top N] [seconds]
//
// With --syscall, only that syscall is counted (its syscalls:sys_enter_NAME tracepoint),
// so a process that makes a known number of calls shows exactly that number. The process
// name is recorded in the kernel, so short-lived processes keep theirs.
import EBPF
import CommandLineSupport

#if canImport(Glibc)
import Glibc
#endif

/// `--name value` pairs and the remaining positional arguments.
func parse(_ arguments: [String]) -> (options: [String: String], positional: [String]) {
    var options: [String: String] = [:]
    var positional: [String] = []
    var index = 0
    while index < arguments.count {
        if arguments[index].hasPrefix("--"), index + 1 < arguments.count {
            options[arguments[index]] = arguments[index + 1]
            index += 2
        } else {
            positional.append(arguments[index])
            index += 1
        }
    }
    return (options, positional)
}
let (options, positional) = parse(Array(CommandLine.arguments.dropFirst()))
let syscall = options["--syscall"]
let top = options["--top"].flatMap(Int.init) ?? 10
let seconds = positional.first.flatMap(Int.init) ?? 5
Example.catchInterrupts()

Example.run {
    let b = try EBPFWrapper(
        text: """
            struct process { u32 pid; char comm[16]; };
            BPF_HASH(counts, struct process, u64, 10240);
            int count_call(void *ctx) {
                struct process key = { .pid = bpf_get_current_pid_tgid() >> 32 };
                bpf_get_current_comm(&key.comm, sizeof(key.comm));
                counts.increment(key);
                return 0;
            }
            """)
    defer { b.close() }
    // The tracepoint comes from the command line: the library validates the name.
    try b.attachTracepoint(
        tp: syscall.map { "syscalls:sys_enter_\($0)" } ?? "raw_syscalls:sys_enter", fnName: "count_call")
    let counts = try b.table("counts")
    print("Counting \(syscall ?? "all") syscalls per process for \(seconds) s; Ctrl-C to stop.")
    fflush(nil)
    for _ in 0..<seconds {
        // Ctrl-C prints what the last second counted so far, and stops.
        let interrupted = Example.waitForInterrupt(seconds: 1)
        // Read and delete in one batch: each second counts only that second's calls.
        // The key is a struct: its fields are decoded by name from libbcc's description.
        let items = try counts.takeItems().sorted { ($0.value.uint64Value ?? 0) > ($1.value.uint64Value ?? 0) }
        print("\nPID     COMM             CALLS")
        for entry in items.prefix(top) {
            let process = entry.key
            print(
                (process.pid?.description ?? "?").padded(7),
                (process.comm?.stringValue?.terminalSafe ?? "?").padded(16), entry.value)
        }
        fflush(nil)
        if interrupted { break }
    }
}
