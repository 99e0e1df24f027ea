#!/usr/bin/env bash
# The exporter's scrape latency with 1,000 series (Sources/exporter-bench), in release mode;
# writes Figures/exporter-scrape.md, which the README cites. Run as root; called by
# Benchmarks/run.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
commit=$(scripts/commit-label.sh)
./scripts/setup-host.sh >/dev/null
# A stale build plan misses files added to the library since (see Benchmarks/run.sh).
rm -f Exporter/.build/*.yaml
swift build -c release --package-path Exporter --product exporter-bench
report=$(mktemp)
trap 'rm -f "$report"' EXIT
"$(swift build -c release --package-path Exporter --show-bin-path)/exporter-bench" | tee "$report"
mkdir -p Figures
{
    echo "# Figures from the last run of Exporter/bench.sh"
    echo
    echo "Written by \`Exporter/bench.sh\`: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $commit, kernel $(uname -r), $(nproc) CPUs."
    echo
    cat "$report"
} >Figures/exporter-scrape.md
