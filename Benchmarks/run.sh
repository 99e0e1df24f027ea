#!/usr/bin/env bash
# The benchmark: sets up the host (idempotent), builds the C baselines and the Swift harness
# (release), then runs every consumer side by side and writes the report to
# Figures/benchmarks.md as well. Not part of the tests: it asserts nothing,
# it measures. Options go to ebpf-bench, e.g. --events 200000 --sizes 56 --latency-events 10.
set -euo pipefail
cd "$(dirname "$0")/.."
commit=$(scripts/commit-label.sh)
./scripts/setup-host.sh
mkdir -p Benchmarks/baselines/bin
cc -O2 -Wall -o Benchmarks/baselines/bin/load Benchmarks/baselines/load.c
cc -O2 -Wall -shared -fPIC -o Benchmarks/baselines/bin/alloc_count.so Benchmarks/baselines/alloc_count.c
cc -O2 -Wall $(pkg-config --cflags libbcc) -o Benchmarks/baselines/bin/c_consumer \
    Benchmarks/baselines/c_consumer.c $(pkg-config --libs libbcc)
# SwiftPM reuses its build plan for a path dependency whose files were added since (the
# plan then lacks them and the build fails); removing the plan makes it read them again.
rm -f Benchmarks/.build/*.yaml
swift build -c release --package-path Benchmarks
# The start-up comparison runs the library's tracer against bcc Python and bpftrace.
swift build -c release --product ebpf-trace
command -v bpftrace >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bpftrace >/dev/null
# The report goes to the terminal and to Figures/benchmarks.md, which the README cites.
mkdir -p Figures
report=$(mktemp)
trap 'rm -f "$report"' EXIT
Benchmarks/.build/release/ebpf-bench --baselines Benchmarks/baselines \
    --ebpf-trace "$(swift build -c release --show-bin-path)/ebpf-trace" "$@" | tee "$report"
{
    echo "# Figures from the last run of Benchmarks/run.sh"
    echo
    echo "Written by \`Benchmarks/run.sh\`: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $commit,"
    echo "kernel $(uname -r), $(nproc) CPUs, options: ${*:-(defaults)}. Ratios compare consumers of this one run."
    echo
    cat "$report"
} >Figures/benchmarks.md
# The exporter's scrape latency with 1,000 series: Figures/exporter-scrape.md.
./Exporter/bench.sh
# The ring-buffer transport against perf buffers, in the 6.1 guest: Figures/transport.md.
./Benchmarks/transport.sh
# Each attach mechanism's cost per traced syscall, in the 6.1 guest: Figures/attach-cost.md.
./Benchmarks/attach-cost.sh
# A Swift function's uprobe, uretprobe and latency pair against bpftrace's: Figures/uprobe-cost.md.
./Benchmarks/uprobe-cost.sh
