// opensnoop with your own C and a perf buffer: every openat() on the machine with the
// process, its uid and the path, decoded by field name from the struct the program submits.
//
//   swift run opensnoop [seconds]
import EBPF
import CommandLineSupport

#if canImport(Glibc)
import Glibc
#endif

let seconds = Example.seconds()

let program = """
    struct open_event {
        u32 pid;
        u32 uid;
        s32 dfd;
        s32 flags;
        char comm[16];
        char filename[256];
    };
    BPF_PERF_OUTPUT(opens);

    TRACEPOINT_PROBE(syscalls, sys_enter_openat) {
        struct open_event event = {};
        event.pid = bpf_get_current_pid_tgid() >> 32;
        event.uid = (u32)bpf_get_current_uid_gid();
        event.dfd = args->dfd;
        event.flags = args->flags;
        bpf_get_current_comm(&event.comm, sizeof(event.comm));
        bpf_probe_read_user_str(&event.filename, sizeof(event.filename), args->filename);
        opens.perf_submit(args, &event, sizeof(event));
        return 0;
    }
    """

Example.run {
    let b = try EBPFWrapper(text: program)
    defer { b.close() }
    try b.attachTracepoint(tp: "syscalls:sys_enter_openat", fnName: "tracepoint__syscalls__sys_enter_openat")
    print("Tracing openat() for \(seconds) s...")
    print("PID     UID    COMM             FLAGS    PATH")
    let buffer = try b.table("opens").openPerfBuffer(lost: { print("lost \($0) events") }) { event in
        let pid = event.pid?.description ?? "?"
        let uid = event.uid?.description ?? "?"
        let comm = event.comm?.stringValue?.terminalSafe ?? "?"
        let flags = String(event.flags?.intValue ?? 0, radix: 8)
        print(
            pid.padded(7), uid.padded(6), comm.padded(16), ("0" + flags).padded(8),
            event.filename?.stringValue?.terminalSafe ?? "?")
    }
    sleep(UInt32(seconds))
    b.close()
    print("\(buffer.receivedCount) opens traced, \(buffer.lostCount) lost")
}
