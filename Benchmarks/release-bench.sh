#!/usr/bin/env bash
# Sets up the host (idempotent), builds ebpf-bench in release and prints its path: the
# first step of the figure scripts beside it (attach-cost.sh, transport.sh, uprobe-cost.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup-host.sh >/dev/null
# SwiftPM reuses its build plan for a path dependency whose files were added since (the
# plan then lacks them and the build fails); removing the plan makes it read them again.
rm -f Benchmarks/.build/*.yaml
swift build -c release --package-path Benchmarks >/dev/null
echo "$(swift build -c release --package-path Benchmarks --show-bin-path)/ebpf-bench"
