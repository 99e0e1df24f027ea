# The whole-run benchmark's bcc Python one-liners, as a bcc user writes them: a count of a
# syscall's entries by process name, or a log2 histogram of one of its arguments, printed
# after SECONDS of tracing.
#
#   python3 bcc_aggregate.py SECONDS count SYSCALL
#   python3 bcc_aggregate.py SECONDS hist SYSCALL FIELD
import sys
import time

from bcc import BPF

seconds = float(sys.argv[1])
mode, syscall = sys.argv[2], sys.argv[3]
if mode == "count":
    text = """
struct key_t { char comm[16]; };
BPF_HASH(counts, struct key_t, u64);
TRACEPOINT_PROBE(syscalls, sys_enter_%s) {
    struct key_t key = {};
    bpf_get_current_comm(&key.comm, sizeof(key.comm));
    counts.increment(key);
    return 0;
}
""" % syscall
else:
    text = """
BPF_HISTOGRAM(dist);
TRACEPOINT_PROBE(syscalls, sys_enter_%s) {
    dist.increment(bpf_log2l(args->%s));
    return 0;
}
""" % (syscall, sys.argv[4])
b = BPF(text=text)
time.sleep(seconds)
if mode == "count":
    for key, value in sorted(b["counts"].items(), key=lambda kv: -kv[1].value):
        print(key.comm.decode(errors="replace"), value.value)
else:
    b["dist"].print_log2_hist(sys.argv[4])
