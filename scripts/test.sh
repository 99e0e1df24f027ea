#!/usr/bin/env bash
# The README's test command (and CI's): prepares the host (idempotent), then
#   1. the whole suite on the real kernel, the lifecycle test running EBPF_LIFECYCLE_CYCLES
#      cycles (default 1000);
#   2. the suite again under ThreadSanitizer, and again under AddressSanitizer with
#      LeakSanitizer (.lsan-suppressions hides libbcc's and LLVM's process-lifetime allocations);
#   3. the tracepoint format parser and the record decoder fuzzed with libFuzzer for
#      FUZZ_SECONDS each (default 60).
# Kernel tests skip without root/BPF unless EBPF_REQUIRE_KERNEL_TESTS=1 (set by .ci/run),
# which turns every skip into a failure. For a quick local run: `swift test`.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup-host.sh

swift build --build-tests
# The benchmark package must keep compiling; it is run by Benchmarks/run.sh, never here.
swift build --package-path Benchmarks
EBPF_LIFECYCLE_CYCLES=${EBPF_LIFECYCLE_CYCLES:-1000} swift test --skip-build --disable-swift-testing "$@"

for sanitizer in thread address; do
    echo "== the test suite under the ${sanitizer} sanitizer"
    swift build --build-tests --sanitize="$sanitizer" --scratch-path ".build-$sanitizer"
    EBPF_SANITIZER="$sanitizer" LSAN_OPTIONS="suppressions=$PWD/.lsan-suppressions" EBPF_LIFECYCLE_CYCLES=20 \
        swift test --skip-build --sanitize="$sanitizer" --scratch-path ".build-$sanitizer" --disable-swift-testing "$@"
done

Fuzz/run.sh "${FUZZ_SECONDS:-60}"
