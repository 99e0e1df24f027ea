#!/usr/bin/env bash
# The README's test command: prepares the host (idempotent), then runs the whole test suite
# on the real kernel. Kernel tests skip without root/BPF, unless EBPF_REQUIRE_KERNEL_TESTS=1
# (set by .ci/run), which turns every such skip into a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup-host.sh
swift build --build-tests
# The benchmark package must keep compiling; it is run by Benchmarks/run.sh, never here.
swift build --package-path Benchmarks
swift test --skip-build --disable-swift-testing "$@"
