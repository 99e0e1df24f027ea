#!/usr/bin/env bash
# Fuzzes the tracepoint format parser and the by-name record decoder with libFuzzer
# (ASan on), each for a bounded time, from a seed corpus of real format files and records.
#
#   Fuzz/run.sh [seconds per target, default 60]
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-60}
swift build -c debug --scratch-path ../.build-fuzz -Xswiftc -sanitize=fuzzer,address
bin=$(swift build -c debug --scratch-path ../.build-fuzz --show-bin-path)
for target in format record; do
    work=$(mktemp -d)
    cp corpus/"$target"/* "$work"/
    echo "fuzzing the $target decoder for $seconds s"
    "$bin/ebpf-fuzz-$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 "$work" 2>&1 \
        | grep -E 'stat::number_of_executed_units|stat::peak_rss_mb|ERROR|SUMMARY|Done [0-9]+ runs' || true
    rm -rf "$work"
done
