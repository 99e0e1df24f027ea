#!/usr/bin/env bash
# Fuzzes the tracepoint format parser, the by-name record decoder, the table type
# description decoder, the trace pipe line parser, the socket address decoder, the
# compile cache's entry reader, the BTF reader and the attach-point parser with libFuzzer (and AddressSanitizer),
# from a seed corpus of real format files, records, libbcc descriptions, trace pipe lines,
# addresses, cache entries, slices of the kernel's BTF and attach points; the targets also check
# properties (round trips, names that are C identifiers), not only "no crash". Exits
# non-zero if a target crashes, leaks or hangs. (Release: SwiftPM's debug builds rename
# `main` for testable executables, and a libFuzzer target has libFuzzer's main.)
#
#   Fuzz/run.sh                    the check test.sh (and CI) runs: each target with a fixed
#                                  seed for a fixed number of inputs (about 8 s each on a
#                                  2-core machine), Swift's hashing made deterministic and
#                                  libFuzzer's comparison tracing off (it learns stack addresses,
#                                  which move with each run), and its once-a-second corpus
#                                  reload and allocator purge off (the reload ran extra inputs
#                                  at whatever moment the second ended, shifting every later
#                                  one), so the result depends on the code alone, never on
#                                  luck or on the machine's speed.
#   Fuzz/run.sh --build            only the build (test.sh builds everything before its tests).
#   Fuzz/run.sh --explore [SECONDS] [TARGET...]
#                                  a search: a random seed, SECONDS per target (default 600).
#                                  A failing input is left in Fuzz/ (crash-*, leak-*,
#                                  timeout-*): fix the code, then add the input to the
#                                  target's corpus or to a unit test, so the check holds it.
set -euo pipefail
cd "$(dirname "$0")"
# Inputs per target in the check: each about 8 s here (targets differ a hundredfold in speed),
# so that the nine fit beside the guests in CI's time; --explore is the long search.
declare -A runs=(
    [format]=64000 [record]=120000 [table]=120000 [trace-line]=6400
    [socket-address]=560000 [cache-entry]=40000 [btf]=2000 [attach-point]=100000 [elf]=12000
)
targets=(format record table trace-line socket-address cache-entry btf attach-point elf)
explore=0
build_only=0
if [ "${1:-}" = "--build" ]; then
    build_only=1
elif [ "${1:-}" = "--explore" ]; then
    explore=1
    seconds=${2:-600}
    shift $(($# < 2 ? $# : 2))
    if [ $# -gt 0 ]; then targets=("$@"); fi
fi
# A failed property (a precondition) prints its message; Swift's backtracer would instead
# read the crashed process's memory through AddressSanitizer and bury it in a false report.
export SWIFT_BACKTRACE=enable=no
swift build -c release --scratch-path ../.build-fuzz -Xswiftc -sanitize=fuzzer,address
[ "$build_only" = 0 ] || exit 0
bin=$(swift build -c release --scratch-path ../.build-fuzz -Xswiftc -sanitize=fuzzer,address --show-bin-path)
for target in "${targets[@]}"; do
    [ -n "${runs[$target]:-}" ] || { echo "Fuzz/run.sh: no target '$target' (targets: ${!runs[*]})" >&2; exit 2; }
    work=$(mktemp -d)
    log=$(mktemp)
    cp corpus/"$target"/* "$work"/
    status=0
    if [ "$explore" = 1 ]; then
        echo "== fuzzing the $target decoder for $seconds s (exploring: a random seed)"
        "$bin/ebpf-fuzz-$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 \
            -print_final_stats=1 "$work" >"$log" 2>&1 || status=$?
    else
        echo "== fuzzing the $target decoder for ${runs[$target]} inputs from seed 1"
        SWIFT_DETERMINISTIC_HASHING=1 "$bin/ebpf-fuzz-$target" -seed=1 -runs="${runs[$target]}" -use_cmp=0 \
            -reload=0 -purge_allocator_interval=-1 \
            -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 "$work" >"$log" 2>&1 || status=$?
    fi
    grep -E 'stat::number_of_executed_units|stat::peak_rss_mb|Done [0-9]+ runs' "$log" || true
    if [ "$status" -ne 0 ]; then
        tail -n 60 "$log"
        echo "fuzzing the $target decoder failed (exit $status)" >&2
        exit 1
    fi
    rm -rf "$work" "$log"
done
