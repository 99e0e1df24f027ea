#!/usr/bin/env bash
# What each attach mechanism adds to a traced syscall — tracepoint, raw tracepoint, kprobe,
# fentry — measured by `ebpf-bench attach-cost` (release) inside Debian's 6.1 kernel under
# qemu (scripts/kernel-vm.sh), where all four attach (this host has no kprobes and refuses
# fentry), and on this host. Writes Figures/attach-cost.md, which the README cites. Software
# emulation makes the guest's absolute times meaningless: compare its rows by their ratios.
# Run as root; called by Benchmarks/run.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
commit=$(scripts/commit-label.sh)
bench=$(Benchmarks/release-bench.sh)
guest=$(mktemp)
host=$(mktemp)
trap 'rm -f "$guest" "$host"' EXIT
./scripts/kernel-vm.sh "$bench" attach-cost --calls 100000 --rounds 5 | tee "$guest"
"$bench" attach-cost --calls 1000000 --rounds 5 | tee "$host"
mkdir -p Figures
{
    echo "# Figures from the last run of Benchmarks/attach-cost.sh"
    echo
    echo "Written by \`Benchmarks/attach-cost.sh\`: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $commit, $(nproc) CPUs."
    echo
    echo "## In Debian's 6.1 guest (software emulation: compare ratios, not times)"
    echo
    grep -E '^(###|Kernel|\||$)' "$guest" | sed -n '/^###/,$p'
    echo
    echo "## On this host"
    echo
    cat "$host"
} >Figures/attach-cost.md
