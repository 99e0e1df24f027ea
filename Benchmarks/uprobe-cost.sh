#!/usr/bin/env bash
# What a uprobe, a uretprobe and a latency pair add to each call of a Swift function, the
# library's (by the function's Swift name) against bpftrace's (by its symbol) in one run:
# `ebpf-bench uprobe-cost` (release) on this host. Writes Figures/uprobe-cost.md, which the
# README cites. Run as root; called by Benchmarks/run.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
commit=$(scripts/commit-label.sh)
bench=$(Benchmarks/release-bench.sh)
command -v bpftrace >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bpftrace >/dev/null
report=$(mktemp)
trap 'rm -f "$report"' EXIT
"$bench" uprobe-cost --calls 1000000 --rounds 5 | tee "$report"
mkdir -p Figures
{
    echo "# Figures from the last run of Benchmarks/uprobe-cost.sh"
    echo
    echo "Written by \`Benchmarks/uprobe-cost.sh\`: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $commit, $(nproc) CPUs, bpftrace $(bpftrace --version | awk '{print $2}')."
    echo
    cat "$report"
} >Figures/uprobe-cost.md
