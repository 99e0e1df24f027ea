# bcc Python, the baseline: the same program through bcc's own BPF class, records decoded by
# name with b["ebpf_events"].event(data) as bcc's tools do.
#
#   /usr/bin/python3 bcc_consumer.py PROGRAM_FILE CATEGORY:NAME SEQ_FIELD SEQ_BASE COUNT PAGES WAKEUP
#
# Same protocol as c_consumer: READY after attaching, RESULT after stdin's EOF and quiet rings.
import os
import resource
import select
import sys
import time

from bcc import BPF


def cpu_ns():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return int((usage.ru_utime + usage.ru_stime) * 1e9)


def main():
    path, tracepoint, field, base, expected, pages, wakeup = sys.argv[1:8]
    base, expected, pages, wakeup = int(base), int(expected), int(pages), int(wakeup)
    text = open(path).read()
    seen = bytearray(expected)
    state = {"delivered": 0, "lost": 0, "duplicates": 0, "last_ns": 0}

    start = time.monotonic_ns()
    b = BPF(text=text)
    b.attach_tracepoint(tp=tracepoint, fn_name="ebpf_probe")
    table = b["ebpf_events"]

    def on_record(cpu, data, size):
        event = table.event(data)
        state["delivered"] += 1
        state["last_ns"] = time.monotonic_ns()
        seq = getattr(event, field) - base
        if 0 <= seq < expected:
            if seen[seq]:
                state["duplicates"] += 1
            seen[seq] = 1

    def on_lost(count):
        state["lost"] += count

    table.open_perf_buffer(on_record, page_cnt=pages, lost_cb=on_lost, wakeup_events=wakeup)
    print("READY startup_ns=%d" % (time.monotonic_ns() - start), flush=True)

    cpu_start = cpu_ns()
    done = False
    quiet_since = 0
    seen_at_quiet = 0
    while True:
        b.perf_buffer_poll(timeout=10)
        if wakeup > 1:
            b.perf_buffer_consume()
        if not done:
            readable, _, _ = select.select([sys.stdin], [], [], 0)
            if readable and not os.read(0, 1):
                done, quiet_since, seen_at_quiet = True, time.monotonic_ns(), state["delivered"]
        elif state["delivered"] != seen_at_quiet:
            seen_at_quiet, quiet_since = state["delivered"], time.monotonic_ns()
        elif state["delivered"] >= expected or time.monotonic_ns() - quiet_since > 200_000_000:
            break
    cpu_used = cpu_ns() - cpu_start
    print("RESULT delivered=%d lost=%d gaps=%d duplicates=%d last_ns=%d cpu_ns=%d" % (
        state["delivered"], state["lost"], expected - sum(seen), state["duplicates"], state["last_ns"], cpu_used), flush=True)


main()
