#!/usr/bin/env bash
# The README's test command (and CI's): prepares the host (idempotent), then
#   1. builds the package and the exporter here, and in the two other environments with their
#      own C headers (scripts/environment.sh: Debian 13's trixie root with libbcc 0.31, and
#      libbcc 0.18's headers for Debian 11), preparing those environments once from Debian's archive;
#   2. the whole suite on this host's kernel, the lifecycle test running
#      EBPF_LIFECYCLE_CYCLES cycles (default 400: about 8 minutes on this 2-core machine);
#   3. the whole suite again in three Debian kernels booted by scripts/kernel-vm.sh under qemu,
#      each with its own libbcc: Debian 12 (6.1, libbcc 0.26, this host's userland), Debian 13
#      (6.12, its own userland with libbcc 0.31) and Debian 11's 5.10 with libbcc 0.18
#      (lifecycle: 8 cycles there, about 15 s each under software emulation: it proves each
#      path, kprobes included, and the clean-up; the host's 400 cycles are the endurance run).
#      Each guest's emulation is single-threaded, so two run at once: 6.1 and 6.12 side by side,
#      then 5.10 beside parts 4 to 6;
#   4. the suite under ThreadSanitizer, and again under AddressSanitizer with
#      LeakSanitizer (checking when the last test has finished; .lsan-suppressions names one
#      XCTest function), then LeakSanitizer's negative control: a libbcc module leaked on
#      purpose must be reported;
#   5. the exporter's suite (Exporter/, a package of its own): its configuration, and the
#      built ebpf-exporter scraped by a real Prometheus server on loopback (exact counts and
#      histogram buckets of what a child process did, over TLS with basic auth; a minute of
#      scrapes every 100 ms), its limits under abuse and its dropped capabilities; then the
#      same suite, but the minute, in Debian 12's and 13's guests (and, after part 6, 11's);
#   6. the nine parsers of untrusted input (Fuzz/run.sh) fuzzed with libFuzzer, each
#      from a fixed seed for a fixed number of inputs (about a minute each), so the part's
#      result never depends on luck; `Fuzz/run.sh --explore` is the open-ended search.
# Before part 2, after the builds and the documentation and layer checks, the fast tier
# (Tests/EBPFUnitTests: parsers, generators, layouts, the attach-point grammar) runs without
# privileges. Kernel tests skip without root/BPF unless EBPF_REQUIRE_KERNEL_TESTS=1 (set by .ci/run),
# which turns every skip into a failure. For a quick local run: `swift test`.
# EBPF_SKIP_KERNEL_VM=1 leaves out part 3 and the other environments' builds (for a host
# that cannot run qemu).
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
trap 'rm -rf "$run_log" "$EBPF_COMPILE_CACHE"' EXIT  # replaced below, once the guests' directory exists
# Each part's time goes to the log as a PART_TIME line when it ends; parts that run in the
# background (guests) report theirs when they are collected.
current_part=""
current_start=0
end_part() {
    [ -z "$current_part" ] || printf 'PART_TIME %s\t%d\t%d\n' "$current_part" "$current_start" \
        "$((SECONDS - started - current_start))" >>"$run_log"
    current_part=""
}
part() { # name
    end_part
    current_part=$1
    current_start=$((SECONDS - started))
    echo "== $1 (at $current_start s)" | tee -a "$run_log"
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

if [ "${EBPF_SKIP_KERNEL_VM:-0}" != 1 ]; then
    part "the build in the other environments, with their own C headers"
    for environment in debian13 debian11-bcc018; do
        ./scripts/environment.sh "$environment" >/dev/null
        ./scripts/environment.sh --build "$environment"
    done
    # The exporter for the same guests: in the trixie root, and against libbcc 0.18.
    ./scripts/environment.sh --build debian13 --package-path Exporter --scratch-path Exporter/.build-debian13
    ./scripts/environment.sh --build debian11-bcc018 --package-path Exporter --scratch-path Exporter/.build-debian11-bcc018
    # Each guest's kernel and initramfs, one after another (apt and dpkg take one at a time),
    # before the guests start side by side.
    for environment in debian12 debian13 debian11-bcc018; do
        ./scripts/kernel-vm.sh --environment "$environment" --kernel-version >/dev/null
    done
fi

part "the DocC catalog against the code, and what library users resolve"
./scripts/check-docs.sh
./scripts/check-dependencies.sh
./scripts/check-layers.sh
./scripts/check-wrapper-kinds.sh

part "the fast tier (EBPFUnitTests) without privileges"
# A contributor without root runs it with `swift test --filter EBPFUnitTests`. Here it runs
# as nobody where the checkout is readable to others, else as uid 0 with every capability
# dropped (no BPF or perf events either way; uid 0 may still read root's files).
binary="$(swift build --show-bin-path)/swift-ebpfPackageTests.xctest"
suites=$("$binary" --list-tests | sed -n 's#^\(EBPFUnitTests\.[^/]*\)/.*#\1#p' | sort -u | paste -sd, -)
if runuser -u nobody -- test -r "$binary" -a -r README.md -a -x "$(dirname "$binary")"; then
    echo "as nobody"
    logged runuser -u nobody -- "$binary" "$suites"
else
    echo "as uid 0 with no capabilities (the checkout is not readable to nobody)"
    logged setpriv --inh-caps=-all --ambient-caps=-all --bounding-set=-all -- "$binary" "$suites"
fi

part "the test suite on this host's kernel, $(uname -r)"
EBPF_LIFECYCLE_CYCLES=${EBPF_LIFECYCLE_CYCLES:-400} logged swift test --skip-build --disable-swift-testing "$@"

# The guests: each runs the test binary built for its environment, its output in a file of its
# own, shown (and added to the run's log) when it is collected. kernel-vm.sh runs in the
# background itself, so the EXIT trap's kill reaches it, and its own trap stops its qemu.
guest_dir=$(mktemp -d)
# (errexit holds in the trap too: with no job left, `kill` alone would end the run with status 2)
trap 'kill $(jobs -p) 2>/dev/null || true; wait || true; rm -rf "$run_log" "$EBPF_COMPILE_CACHE" "$guest_dir"' EXIT
describe_guest() { # environment: sets the environment's variables (scripts/environment.sh)
    local description
    description=$(./scripts/environment.sh "$1") || exit 1
    eval "$description"
}
guest_title() { # environment
    describe_guest "$1"
    echo "the test suite on $1's kernel $KERNEL_RELEASE with libbcc $BCC_VERSION, under qemu"
}
declare -A guest_pid guest_start
start_guest() { # environment
    describe_guest "$1"
    local binary=.build/debug/swift-ebpfPackageTests.xctest
    [ "$1" = debian12 ] || binary=$SCRATCH_PATH/debug/swift-ebpfPackageTests.xctest
    guest_start[$1]=$((SECONDS - started))
    echo "(the suite in $1's guest started at ${guest_start[$1]} s)"
    # Every suite but the browser's and the compiler's: a flame graph's rendering and what
    # the compiler refuses do not depend on the kernel, the guests' roots have no Chromium,
    # swiftc under emulation takes minutes, and both ran on the host above.
    local suites
    suites=$("$binary" --list-tests | sed -n 's#^\([A-Za-z]*Tests\.[^/]*\)/.*#\1#p' |
        grep -v -e '^EBPFTests\.FlameGraphBrowserTests$' -e '^EBPFUnitTests\.BorrowedViewEscapeTests$' | sort -u | paste -sd, -)
    EBPF_LIFECYCLE_CYCLES=8 ./scripts/kernel-vm.sh --environment "$1" "$binary" "$suites" >"$guest_dir/$1.log" 2>&1 &
    guest_pid[$1]=$!
}
collect_guest() { # environment: waits for it and shows its output; returns its status
    local status=0 title
    wait "${guest_pid[$1]}" || status=$?
    title=$(guest_title "$1")
    {
        echo "== $title (at ${guest_start[$1]} s)"
        cat "$guest_dir/$1.log"
        printf 'PART_TIME %s\t%d\t%d\n' "$title" "${guest_start[$1]}" "$((SECONDS - started - guest_start[$1]))"
    } | tee -a "$run_log" | grep -v '^PART_TIME '
    [ $status = 0 ] || echo "test.sh: the suite in $1's guest failed (status $status)" >&2
    return $status
}
run_guests=0
[ "${EBPF_SKIP_KERNEL_VM:-0}" = 1 ] || run_guests=1

if [ $run_guests = 1 ]; then
    part "the suite in Debian 12's and Debian 13's guests, side by side"
    start_guest debian12
    start_guest debian13
    failed=0
    collect_guest debian12 || failed=1
    collect_guest debian13 || failed=1
    [ $failed = 0 ] || exit 1
    start_guest debian11-bcc018
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
# The exporter's suite in a guest (environment, its build directory): every suite but the
# minute of 100 ms scrapes, whose pace software emulation cannot keep; the rest take their time
# from what they wait for. Prometheus, openssl, htpasswd and curl are this host's, or the trixie root's.
exporter_in_guest() {
    local suites
    # (Listed by this host's build: the same tests, and it runs here whatever the environment.)
    suites=$(Exporter/.build/debug/ebpf-exporterPackageTests.xctest --list-tests |
        sed -n 's#^\([A-Za-z]*Tests\.[^/]*\)/.*#\1#p' | grep -v -e '^EBPFExporterTests\.EnduranceTests$' | sort -u | paste -sd, -)
    logged ./scripts/kernel-vm.sh --environment "$1" "$2/debug/ebpf-exporterPackageTests.xctest" "$suites"
}
if [ $run_guests = 1 ]; then
    part "the exporter's suite on Debian 12's kernel, under qemu"
    exporter_in_guest debian12 Exporter/.build
    part "the exporter's suite on Debian 13's kernel with its own userland, under qemu"
    exporter_in_guest debian13 Exporter/.build-debian13
fi

part "fuzzing"
logged Fuzz/run.sh
if [ $run_guests = 1 ]; then
    part "waiting for Debian 11's guest"
    collect_guest debian11-bcc018
    part "the exporter's suite on Debian 11's kernel with libbcc 0.18, under qemu"
    exporter_in_guest debian11-bcc018 Exporter/.build-debian11-bcc018
fi
part "done"
end_part
./scripts/write-figures.sh "$run_log" Figures/test-run.md
