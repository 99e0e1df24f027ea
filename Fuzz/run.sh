#!/usr/bin/env bash
# Fuzzes the tracepoint format parser, the by-name record decoder, the table type
# description decoder, the trace pipe line parser, the socket address decoder, the
# compile cache's entry reader and the BTF reader with
# libFuzzer (and AddressSanitizer), each for a bounded time, from a seed corpus of real
# format files, records, libbcc descriptions, trace pipe lines, addresses, cache entries and slices of the kernel's BTF; the targets
# also check properties (round trips, names that are C identifiers), not only "no crash".
# Exits non-zero if a target crashes, leaks or hangs. (Release: SwiftPM's debug builds
# rename `main` for testable executables, and a libFuzzer target has libFuzzer's main.)
#
#   Fuzz/run.sh [seconds per target, default 60]
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-60}
# A failed property (a precondition) prints its message; Swift's backtracer would instead
# read the crashed process's memory through AddressSanitizer and bury it in a false report.
export SWIFT_BACKTRACE=enable=no
swift build -c release --scratch-path ../.build-fuzz -Xswiftc -sanitize=fuzzer,address
bin=$(swift build -c release --scratch-path ../.build-fuzz -Xswiftc -sanitize=fuzzer,address --show-bin-path)
for target in format record table trace-line socket-address cache-entry btf; do
    work=$(mktemp -d)
    log=$(mktemp)
    cp corpus/"$target"/* "$work"/
    echo "== fuzzing the $target decoder for $seconds s"
    status=0
    "$bin/ebpf-fuzz-$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 "$work" >"$log" 2>&1 || status=$?
    grep -E 'stat::number_of_executed_units|stat::peak_rss_mb|Done [0-9]+ runs' "$log" || true
    if [ "$status" -ne 0 ]; then
        tail -n 60 "$log"
        echo "fuzzing the $target decoder failed (exit $status)" >&2
        exit 1
    fi
    rm -rf "$work" "$log"
done
