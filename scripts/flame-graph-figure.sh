#!/usr/bin/env bash
# Draws the README's flame graph with the library's own tool: `ebpf-trace profile` samples the
# Swift toolchain's swift-format while it lints this repository's sources, and
# writes Figures/flame-graph.svg, and Figures/flame-graph.md with the run's command and counts.
# Nothing in either is typed by hand.
#
#   scripts/flame-graph-figure.sh [SECONDS]   (as root; default 10)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
./scripts/setup-host.sh
swift build -c release --product ebpf-trace
tracer="$(swift build -c release --show-bin-path)/ebpf-trace"
formatter=$(command -v swift-format) || { echo "flame-graph-figure: swift-format is not on PATH" >&2; exit 1; }
mkdir -p Figures
# The workload: one swift-format process linting forty copies of the sources, for longer
# than the profile lasts.
copies=$(mktemp -d)
for copy in $(seq 40); do cp -r Sources "$copies/$copy"; done
"$formatter" lint -r "$copies" >/dev/null 2>&1 &
workload=$!
trap 'kill "$workload" 2>/dev/null || true; rm -rf "$copies"' EXIT
sleep 1
folded=$(mktemp)
"$tracer" profile --frequency 99 --pid "$workload" --duration "$seconds" --flame-graph Figures/flame-graph.svg >"$folded"
kill -0 "$workload" 2>/dev/null || { echo "flame-graph-figure: swift-format ended before the profile did" >&2; exit 1; }
lines=$(grep -c '^swift-format;' "$folded" || true)
samples=$(awk '/^swift-format;/ { n += $NF } END { print n + 0 }' "$folded")
{
    echo "# The README's flame graph"
    echo
    echo "Written by \`scripts/flame-graph-figure.sh\`: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(scripts/commit-label.sh),"
    echo "kernel $(uname -r), $(nproc) CPUs."
    echo
    echo "\`ebpf-trace profile --frequency 99 --pid PID --duration $seconds --flame-graph Figures/flame-graph.svg\` of"
    echo "\`swift-format lint -r\` (forty copies of the sources): $samples samples in $lines distinct stacks."
} >Figures/flame-graph.md
rm -f "$folded"
echo "flame-graph-figure: $samples samples of swift-format; Figures/flame-graph.svg and Figures/flame-graph.md written"
