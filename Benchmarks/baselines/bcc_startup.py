# The start-up benchmark's bcc Python tracer: one program with a function per syscall
# tracepoint, one perf buffer, a line per event (flushed), as a bcc user would write it.
# Plain functions attached by name rather than TRACEPOINT_PROBE: bcc builds that macro's
# argument struct from the format file's type names, and some (add_key's key_serial_t) are
# unknown to it, so the program would not compile.
#
#   python3 bcc_startup.py PID SYSCALL...
import sys

from bcc import BPF

pid = int(sys.argv[1])
syscalls = sys.argv[2:]
text = """
struct event { u32 pid; u32 probe; char comm[16]; };
BPF_PERF_OUTPUT(events);
"""
for index, name in enumerate(syscalls):
    text += """
int on_%s(void *ctx) {
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    if (pid != %d) return 0;
    struct event e = {};
    e.pid = pid;
    e.probe = %d;
    bpf_get_current_comm(&e.comm, sizeof(e.comm));
    events.perf_submit(ctx, &e, sizeof(e));
    return 0;
}
""" % (name, pid, index)
b = BPF(text=text)
for name in syscalls:
    b.attach_tracepoint(tp="syscalls:sys_enter_" + name, fn_name="on_" + name)


def on_event(cpu, data, size):
    event = b["events"].event(data)
    print("event", syscalls[event.probe], event.pid, flush=True)


b["events"].open_perf_buffer(on_event)
while True:
    b.perf_buffer_poll()
