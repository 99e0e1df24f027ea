// A pinned map read by a second process: `count` counts getppid() calls per process into a
// map it pins on the BPF filesystem; `read`, run meanwhile from another shell, opens the
// map by its path and prints it.
//
//   swift run pinned-counter count /sys/fs/bpf/getppid_calls [seconds]
//   swift run pinned-counter read /sys/fs/bpf/getppid_calls
import CommandLineSupport
import EBPF

#if canImport(Glibc)
import Glibc
#endif

let program = """
    BPF_HASH(calls, u32, u64, 10240);
    TRACEPOINT_PROBE(syscalls, sys_enter_getppid) {
        u32 pid = bpf_get_current_pid_tgid() >> 32;
        calls.increment(pid);
        return 0;
    }
    """

Example.catchInterrupts()
Example.run {
    let arguments = Array(CommandLine.arguments.dropFirst())
    guard arguments.count >= 2, ["count", "read"].contains(arguments[0]) else {
        print("usage: pinned-counter count PATH [seconds] | pinned-counter read PATH")
        exit(2)
    }
    let path = arguments[1]
    if arguments[0] == "read" {
        let calls = try TypedTable<UInt32, UInt64>.pinned(at: path)
        print("PID      CALLS")
        for entry in try calls.snapshot().sorted(by: { $0.key < $1.key }) {
            print(String(entry.key).padded(8), entry.value)
        }
        return
    }
    let seconds = arguments.dropFirst(2).first.flatMap(Int.init) ?? 5
    let b = try EBPFWrapper(text: program)
    defer { b.close() }
    try b.attachTracepoint(tp: "syscalls:sys_enter_getppid", fnName: "tracepoint__syscalls__sys_enter_getppid")
    let calls = try b.table("calls", key: UInt32.self, value: UInt64.self)
    try calls.pin(at: path)
    defer { try? BPFFilesystem.unpin(path) }
    print("Counting getppid() calls into \(path) for \(seconds) s (or until Ctrl-C)...")
    fflush(nil)
    Example.waitForInterrupt(seconds: seconds)
}
