// profile: an on-CPU sampling profiler, as bcc's profile -f. A perf event at 49 Hz on every
// CPU records the running process's user and kernel stacks in a BPF_STACK_TRACE and counts
// them in a BPF_HASH; at the end each distinct stack prints as one folded line,
// `comm;user frames;kernel frames count`, outermost frame first: the input of flame graph
// tools (flamegraph.pl, speedscope, inferno).
//
//   swift run profile [seconds] > out.folded
import EBPF
import CommandLineSupport

#if canImport(Glibc)
import Glibc
#endif

let seconds = Example.seconds()

Example.run {
    let b = try EBPFWrapper(
        text: """
            #include <uapi/linux/bpf_perf_event.h>
            struct key_t {
                u32 pid;
                int user_stack;
                int kernel_stack;
                char comm[16];
            };
            BPF_HASH(counts, struct key_t, u64, 16384);
            BPF_STACK_TRACE(stacks, 16384);

            int on_sample(struct bpf_perf_event_data *ctx) {
                u32 pid = bpf_get_current_pid_tgid() >> 32;
                if (pid == 0) return 0;  // the idle task
                struct key_t key = { .pid = pid };
                bpf_get_current_comm(&key.comm, sizeof(key.comm));
                key.user_stack = stacks.get_stackid(ctx, BPF_F_USER_STACK);
                key.kernel_stack = stacks.get_stackid(ctx, 0);
                counts.increment(key);
                return 0;
            }
            """)
    defer { b.close() }
    try b.attach(function: "on_sample", to: .perfEvent(.software(.cpuClock), sampling: .frequency(49)))
    Example.status("Sampling on-CPU stacks at 49 Hz for \(seconds) s...")
    sleep(UInt32(seconds))

    let stacks = try b.table("stacks")
    var lines: [(String, Int)] = []
    for entry in try b.table("counts").items() {
        let key = entry.key
        guard let pid = key.pid?.intValue, let count = entry.value.intValue else { continue }
        var frames = [key.comm?.stringValue ?? "?"]
        let user = key.user_stack?.intValue ?? -1
        let kernel = key.kernel_stack?.intValue ?? -1
        if user >= 0 {
            frames += try stacks.stack(id: user).reversed().map { b.symbols.sym($0, pid: Int32(pid)) }
        }
        if kernel >= 0 {
            frames += try stacks.stack(id: kernel).reversed().map { b.symbols.ksym($0) + "_[k]" }
        }
        lines.append((frames.joined(separator: ";"), count))
    }
    for (stack, count) in lines.sorted(by: { $0.1 > $1.1 }) {
        print("\(stack.terminalSafe) \(count)")
    }
}
