// bcc's "Hello, World!" with your own C: a program that calls bpf_trace_printk on every
// clone(), attached by function name, and the trace pipe read with traceFields().
//
//   swift run hello-native [seconds]
import EBPF
import CommandLineSupport

#if canImport(Glibc)
import Glibc
#endif

let seconds = Example.seconds()

Example.run {
    let b = try EBPFWrapper(
        text: """
            int hello(void *ctx) {
                bpf_trace_printk("Hello, World!\\n");
                return 0;
            }
            """)
    defer { b.close() }
    if KernelFeatures.supportsKprobes {
        try b.attachKprobe(event: b.syscallFunctionName("clone"), fnName: "hello")
    } else {
        // This kernel has no kprobes: the clone() syscall's entry tracepoint fires at the same place.
        try b.attachTracepoint(tp: "syscalls:sys_enter_clone", fnName: "hello")
    }
    print("Tracing clone() for \(seconds) s... (start a program in another shell)")
    print("TIME(s)".padded(18), "COMM".padded(16), "PID".padded(7), "MESSAGE")
    let deadline = ContinuousClock.now + .seconds(seconds)
    while ContinuousClock.now < deadline {
        guard let line = try b.traceFields(timeout: deadline - ContinuousClock.now) else { break }
        print(
            String(line.timestamp).padded(18), line.task.terminalSafe.padded(16), String(line.pid).padded(7),
            line.message.terminalSafe)
    }
}
