// readlatency: how long read() takes, as a log2 histogram in microseconds, measured in the
// kernel between the syscall's entry and exit tracepoints (like bcc's funclatency).
//
//   swift run readlatency [seconds]
import EBPF
import CommandLineSupport

#if canImport(Glibc)
import Glibc
#endif

let seconds = Example.seconds()
Example.catchInterrupts()

Example.run {
    let b = try EBPFWrapper(
        text: """
            BPF_HASH(start, u32, u64, 10240);
            BPF_HISTOGRAM(dist);

            TRACEPOINT_PROBE(syscalls, sys_enter_read) {
                u32 tid = bpf_get_current_pid_tgid();
                u64 now = bpf_ktime_get_ns();
                start.update(&tid, &now);
                return 0;
            }

            TRACEPOINT_PROBE(syscalls, sys_exit_read) {
                u32 tid = bpf_get_current_pid_tgid();
                u64 *began = start.lookup(&tid);
                if (!began) return 0;
                dist.increment(bpf_log2l((bpf_ktime_get_ns() - *began) / 1000));
                start.delete(&tid);
                return 0;
            }
            """)
    defer { b.close() }
    try b.attachTracepoint(tp: "syscalls:sys_enter_read", fnName: "tracepoint__syscalls__sys_enter_read")
    try b.attachTracepoint(tp: "syscalls:sys_exit_read", fnName: "tracepoint__syscalls__sys_exit_read")
    print("Tracing read() latency for \(seconds) s; Ctrl-C to stop and print.")
    fflush(nil)
    Example.waitForInterrupt(seconds: seconds)
    try b.table("dist").printLog2Histogram(valueType: "usecs")
}
