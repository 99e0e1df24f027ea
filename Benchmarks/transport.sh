#!/usr/bin/env bash
# The closure probe's ring-buffer transport against its perf buffers and the C consumer,
# measured by `ebpf-bench transport` (release) inside Debian's 6.1 kernel under qemu
# (scripts/kernel-vm.sh); the host's figures are Benchmarks/run.sh's delivery rows. Writes
# Figures/transport.md, which the README cites. Software emulation makes the guest's
# absolute times meaningless: compare its rows by their ratios. It runs twice: with qemu's
# default here, both vCPUs on one host thread (the load and the consumer take turns), and
# with a thread per vCPU (they run at once, as on hardware). Run as root after the C
# baselines are built; called by Benchmarks/run.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
commit=$(scripts/commit-label.sh)
bench=$(Benchmarks/release-bench.sh)
single=$(mktemp)
multi=$(mktemp)
trap 'rm -f "$single" "$multi"' EXIT
EBPF_KERNEL_VM_TCG_THREAD=single ./scripts/kernel-vm.sh "$bench" transport --baselines Benchmarks/baselines "$@" | tee "$single"
EBPF_KERNEL_VM_TCG_THREAD=multi ./scripts/kernel-vm.sh "$bench" transport --baselines Benchmarks/baselines "$@" | tee "$multi"
mkdir -p Figures
{
    echo "# Figures from the last run of Benchmarks/transport.sh"
    echo
    echo "Written by \`Benchmarks/transport.sh\`: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $commit, options: ${*:-(defaults)}."
    echo
    echo "## In Debian's 6.1 guest, both vCPUs on one host thread (software emulation: compare ratios, not times)"
    echo
    sed -n '/^Kernel /,/^Ring buffer against/p' "$single"
    echo
    echo "## In Debian's 6.1 guest, a host thread per vCPU"
    echo
    sed -n '/^Kernel /,/^Ring buffer against/p' "$multi"
} >Figures/transport.md
