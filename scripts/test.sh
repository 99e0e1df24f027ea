#!/usr/bin/env bash
# The README's test command (and CI's): prepares the host (idempotent), then
#   1. the whole suite on this host's kernel, the lifecycle test running
#      EBPF_LIFECYCLE_CYCLES cycles (default 400: about 8 minutes on this 2-core machine);
#   2. the same test binary inside a second kernel, Debian's 6.1 with kprobes, booted by
#      scripts/kernel-vm.sh under qemu (lifecycle: 8 cycles, about 15 s each under software
#      emulation: there it proves each path, kprobes included, and the clean-up; the host's
#      400 cycles are the endurance run);
#   3. the suite again under ThreadSanitizer, and again under AddressSanitizer with
#      LeakSanitizer (checking when the last test has finished; .lsan-suppressions names one
#      XCTest function), then LeakSanitizer's negative control: a libbcc module leaked on
#      purpose must be reported;
#   4. the exporter's suite (Exporter/, a package of its own): its configuration, and the
#      built ebpf-exporter scraped by a real Prometheus server on loopback (exact counts and
#      histogram buckets of what a child process did; a minute of scrapes every 100 ms);
#   5. the seven parsers of untrusted input (Fuzz/run.sh) fuzzed with libFuzzer, each
#      from a fixed seed for a fixed number of inputs (about a minute each), so the part's
#      result never depends on luck; `Fuzz/run.sh --explore` is the open-ended search.
# Kernel tests skip without root/BPF unless EBPF_REQUIRE_KERNEL_TESTS=1 (set by .ci/run),
# which turns every skip into a failure. For a quick local run: `swift test`.
# EBPF_SKIP_KERNEL_VM=1 leaves out part 2 (for a host that cannot run qemu).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup-host.sh

started=$SECONDS
# Closure probes keep their compiled programs in a compile cache (by default under ~/.cache):
# the run uses its own, empty at the start, so every run compiles and loads the same way —
# the host part compiles, the guest (another kernel) misses, the sanitizer parts load from it.
EBPF_COMPILE_CACHE=$(mktemp -d)
export EBPF_COMPILE_CACHE
# Everything the parts print also goes to this log; at the end, scripts/write-figures.sh
# turns it into Figures/test-run.md, the figures the README cites.
run_log=$(mktemp)
trap 'rm -rf "$run_log" "$EBPF_COMPILE_CACHE"' EXIT
part() { # name
    echo "== $1 (at $((SECONDS - started)) s)" | tee -a "$run_log"
}
logged() { # command...: runs it with its output (stdout and stderr) also in the run's log
    "$@" 2>&1 | tee -a "$run_log"
}

part "build"
swift format lint --strict -r Sources Tests Examples Exporter/Sources Exporter/Tests
swift build --build-tests
# The benchmark package must keep compiling; it is run by Benchmarks/run.sh, never here.
swift build --package-path Benchmarks
swift build --package-path Exporter --build-tests

part "the DocC catalog against the code"
./scripts/check-docs.sh

part "the test suite on this host's kernel, $(uname -r)"
EBPF_LIFECYCLE_CYCLES=${EBPF_LIFECYCLE_CYCLES:-400} logged swift test --skip-build --disable-swift-testing "$@"

if [ "${EBPF_SKIP_KERNEL_VM:-0}" != 1 ]; then
    part "the test suite on a second kernel, Debian's $(./scripts/kernel-vm.sh --kernel-version), under qemu"
    EBPF_LIFECYCLE_CYCLES=8 logged ./scripts/kernel-vm.sh "$(swift build --show-bin-path)/swift-ebpfPackageTests.xctest"
fi

lsan_options="suppressions=$PWD/.lsan-suppressions:leak_check_at_exit=0"
for sanitizer in thread address; do
    part "the test suite under the ${sanitizer} sanitizer"
    swift build --build-tests --sanitize="$sanitizer" --scratch-path ".build-$sanitizer"
    # LeakSanitizer checks when the last test has finished (Tests/EBPFTests/Support/LeakCheck.swift).
    EBPF_SANITIZER="$sanitizer" LSAN_OPTIONS="$lsan_options" EBPF_LIFECYCLE_CYCLES=20 \
        swift test --skip-build --sanitize="$sanitizer" --scratch-path ".build-$sanitizer" --disable-swift-testing "$@"
done

part "LeakSanitizer's negative control: a libbcc module leaked on purpose must be reported"
control_log=$(mktemp)
if EBPF_SANITIZER=address EBPF_LEAK_CONTROL=1 LSAN_OPTIONS="$lsan_options" \
    swift test --skip-build --sanitize=address --scratch-path .build-address --disable-swift-testing \
    --filter LeakControlTests >"$control_log" 2>&1; then
    cat "$control_log"
    echo "test.sh: LeakSanitizer did not report the module leaked on purpose: .lsan-suppressions hides real leaks" >&2
    exit 1
fi
# The module's objects point at each other, so LeakSanitizer calls them indirect leaks; what
# identifies them is the allocation in LibBCC.Module.compile (mangled: LibBCCO6ModuleV7compile).
if ! grep -q "^SUMMARY: AddressSanitizer: .* leaked" "$control_log" || ! grep -q "LibBCCO6ModuleV7compile" "$control_log"; then
    cat "$control_log"
    echo "test.sh: the negative control failed, but not with LeakSanitizer's report of the leaked module" >&2
    exit 1
fi
echo "LEAK_CONTROL $(grep -m1 '^SUMMARY: AddressSanitizer' "$control_log" | sed 's/^SUMMARY: AddressSanitizer: //; s/\.$//'), allocated by LibBCC.Module.compile among them" | tee -a "$run_log"
rm -f "$control_log"

part "the exporter, scraped by a real Prometheus server"
logged swift test --package-path Exporter --skip-build --disable-swift-testing

part "fuzzing"
logged Fuzz/run.sh
part "done"
./scripts/write-figures.sh "$run_log" Figures/test-run.md
