#!/usr/bin/env bash
# The README's test command (and CI's): prepares the host (idempotent), then
#   1. builds everything first: the package, the benchmarks, the exporter, the sanitizer and
#      fuzzing builds here, and the package in the two other environments with their own C
#      headers (scripts/environment.sh: Debian 13's trixie root with libbcc 0.31, and libbcc
#      0.18's headers for Debian 11), preparing those environments once from Debian's archive
#      while this host builds;
#   2. the whole suite on this host's kernel, the lifecycle test running
#      EBPF_LIFECYCLE_CYCLES cycles (default 100);
#   3. the kernel tests again in three Debian kernels booted by scripts/kernel-vm.sh under
#      qemu, each with its own libbcc: Debian 12 (6.1, libbcc 0.26, this host's userland),
#      Debian 13 (6.12, its own userland with libbcc 0.31) and Debian 11's 5.10 with libbcc
#      0.18, and the exporter's suite in each: every test but those scripts/host-only-tests
#      names, whose subject is the library's user-space side. Each guest's emulation is
#      single-threaded, so once everything is built two lanes take the guests' jobs from one
#      queue: one beside parts 2, 4 and 5, the second once those are done, beside part 6.
#      Each job's end is said as it happens, its output shown at the end;
#   4. the suite under ThreadSanitizer, and again under AddressSanitizer with
#      LeakSanitizer (checking when the last test has finished; .lsan-suppressions names one
#      XCTest function), then LeakSanitizer's negative control: a libbcc module leaked on
#      purpose must be reported;
#   5. the exporter's suite (Exporter/, a package of its own): its configuration, and the
#      built ebpf-exporter scraped by a real Prometheus server on loopback (exact counts and
#      histogram buckets of what a child process did, over TLS with basic auth; a minute of
#      scrapes every 100 ms), its limits under abuse and its dropped capabilities;
#   6. the nine parsers of untrusted input (Fuzz/run.sh) fuzzed with libFuzzer, each
#      from a fixed seed for a fixed number of inputs (about 8 s each), so the part's
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

guest_dir=$(mktemp -d)
# (errexit holds in the trap too: with no job left, `kill` alone would end the run with status 2)
trap 'kill $(jobs -p) 2>/dev/null || true; wait || true; rm -rf "$run_log" "$EBPF_COMPILE_CACHE" "$guest_dir"' EXIT
run_guests=0
[ "${EBPF_SKIP_KERNEL_VM:-0}" = 1 ] || run_guests=1
# The guests: a queue of jobs (KIND:ENVIRONMENT), each one suite in one environment's guest,
# taken in order by the lanes; each job's output goes to a file of its own, shown (and added
# to the run's log) when the guests are collected at the end.
declare -a guest_jobs=() lane_pids=()
describe_guest() { # environment: sets the environment's variables (scripts/environment.sh)
    local description
    description=$(./scripts/environment.sh "$1") || exit 1
    eval "$description"
}
guest_title() { # kind environment
    describe_guest "$2"
    case $1 in
        suite) echo "the test suite on $2's kernel $KERNEL_RELEASE with libbcc $BCC_VERSION, under qemu" ;;
        exporter) echo "the exporter's suite on $2's kernel $KERNEL_RELEASE with libbcc $BCC_VERSION, under qemu" ;;
    esac
}
# What a guest runs (README, "What runs where, and why"): the tests of one module of a test
# binary that scripts/host-only-tests does not name, as XCTest selectors (a suite whose every
# test is chosen, by its name). A name there that the binary lacks fails the run.
guest_tests() { # binary module
    "$1" --list-tests | grep "^$2\.[A-Za-z]*/" | awk -v list=scripts/host-only-tests -v module="$2" '
        BEGIN { while ((getline line < list) > 0) if (line !~ /^(#|$)/) host_only[line] = 1 }
        { split($0, part, "/"); suite = part[1]; total[suite]++; known[suite] = known[$0] = 1
          if (!(suite in host_only) && !($0 in host_only)) { kept[suite]++; tests[suite] = tests[suite] "," $0 } }
        END {
            for (name in host_only) if (index(name, module ".") == 1 && !(name in known)) {
                print "test.sh: scripts/host-only-tests names " name ", which is not a test" > "/dev/stderr"; exit 1 }
            for (suite in total) if (kept[suite] == total[suite]) print suite
                else if (kept[suite] > 0) print substr(tests[suite], 2) }' | sort | paste -sd, -
}
guest_job() { # kind environment
    local binary tests
    describe_guest "$2"
    case $1 in
        suite) binary=$SCRATCH_PATH/debug/swift-ebpfPackageTests.xctest tests=$guest_suite_tests ;;
        exporter) binary=Exporter/.build/debug/ebpf-exporterPackageTests.xctest tests=$guest_exporter_tests ;;
    esac
    # (exec: the lane's kill reaches kernel-vm.sh itself)
    exec ./scripts/kernel-vm.sh --environment "$2" "$binary" "$tests"
}
queue_guests() { # job...: added to the end of the queue
    printf '%s\n' "$@" >>"$guest_dir/queue"
    guest_jobs+=("$@")
}
next_guest_job() { # prints the queue's first job and takes it off; fails when none is left
    flock "$guest_dir/queue.lock" sh -c 'head -n 1 "$1"; sed -i 1d "$1"' - "$guest_dir/queue" | grep .
}
# A lane takes the queue's jobs one after another in the background, records each job's
# start, time and status, and says when one ends. Each guest's emulation is single-threaded:
# a lane is one core.
lane() {
    (
        name=""
        # The EXIT trap's kill (or collect_guests') reaches the lane; the lane stops its guest
        # (kernel-vm.sh's own trap stops its qemu).
        trap 'kill $(jobs -p) 2>/dev/null; [ -z "$name" ] || echo "$begin $((SECONDS - started - begin)) stopped" >"$guest_dir/$name.result"; exit 143' TERM
        while job=$(next_guest_job); do
            name=${job%%:*}-${job#*:}
            begin=$((SECONDS - started))
            echo "$begin" >"$guest_dir/$name.begin"
            status=0
            guest_job "${job%%:*}" "${job#*:}" >"$guest_dir/$name.log" 2>&1 &
            wait $! || status=$?
            echo "$begin $((SECONDS - started - begin)) $status" >"$guest_dir/$name.result"
            echo "test.sh: guest job $job ended at $((SECONDS - started)) s, after $((SECONDS - started - begin)) s, with status $status"
            name=""
        done
    ) &
    lane_pids+=($!)
}
lanes_running() {
    local pid
    for pid in "${lane_pids[@]}"; do kill -0 "$pid" 2>/dev/null && return 0; done
    return 1
}
report_running_guests() { # what each running job's guest is doing
    local job name
    for job in "${guest_jobs[@]}"; do
        name=${job%%:*}-${job#*:}
        [ -e "$guest_dir/$name.begin" ] && [ ! -e "$guest_dir/$name.result" ] || continue
        echo "test.sh: at $((SECONDS - started)) s, guest job $job (since $(cat "$guest_dir/$name.begin") s) is at:" \
            "$(grep -a "^Test Suite '.*' started" "$guest_dir/$name.log" | tail -n 1)"
    done
}
# Waits for the lanes, then shows each job's output; fails if one failed. Guests still
# running EBPF_GUEST_DEADLINE seconds into the run (.ci/run sets it; none by default) are
# stopped, so that the log shows where they were rather than nothing.
collect_guests() {
    local job name title failed=0 begin took status report=$((SECONDS - started + 300))
    local deadline=${EBPF_GUEST_DEADLINE:-0}
    while lanes_running; do
        if [ "$deadline" -gt 0 ] && [ $((SECONDS - started)) -ge "$deadline" ]; then
            report_running_guests
            echo "test.sh: the guests still ran at $((SECONDS - started)) s (EBPF_GUEST_DEADLINE=$deadline): stopped" >&2
            kill "${lane_pids[@]}" 2>/dev/null || true
            break
        fi
        if [ $((SECONDS - started)) -ge $report ]; then
            report_running_guests
            report=$((report + 300))
        fi
        sleep 5
    done
    wait "${lane_pids[@]}" || true
    for job in "${guest_jobs[@]}"; do
        name=${job%%:*}-${job#*:}
        title=$(guest_title "${job%%:*}" "${job#*:}")
        read -r begin took status <"$guest_dir/$name.result" || { begin=0 took=0 status="(none: it never ran)"; }
        {
            echo "== $title (at $begin s)"
            cat "$guest_dir/$name.log" 2>/dev/null || true
            printf 'PART_TIME %s\t%d\t%d\n' "$title" "$begin" "$took"
        } | tee -a "$run_log" | grep -v '^PART_TIME '
        if [ "$status" != 0 ]; then
            echo "test.sh: $title failed (status $status)" >&2
            failed=1
        fi
    done
    return $failed
}

part "build"
if [ $run_guests = 1 ]; then
    # The environments and each guest's kernel and initramfs, prepared once (downloads, mostly)
    # while this host builds; one after another, as apt and dpkg take one at a time.
    (
        for environment in debian12 debian11-bcc018 debian13; do
            ./scripts/environment.sh "$environment" >/dev/null
            ./scripts/kernel-vm.sh --environment "$environment" --kernel-version >/dev/null
        done
    ) >"$guest_dir/prepare.log" 2>&1 &
    prepare_pid=$!
fi
swift format lint --strict -r Sources Tests Examples Exporter/Sources Exporter/Tests
swift build --build-tests
# The benchmark package must keep compiling; it is run by Benchmarks/run.sh, never here.
swift build --package-path Benchmarks
swift build --package-path Exporter --build-tests
# Everything is built before the guests start: beside a compiler, an emulated guest slows far
# more than its share of the CPU (a third of its speed, measured here, not a half).
for sanitizer in thread address; do
    swift build --build-tests --sanitize="$sanitizer" --scratch-path ".build-$sanitizer"
done
Fuzz/run.sh --build
if [ $run_guests = 1 ]; then
    part "the build in the other environments, with their own C headers"
    wait $prepare_pid || { cat "$guest_dir/prepare.log"; echo "test.sh: preparing the environments failed" >&2; exit 1; }
    for environment in debian11-bcc018 debian13; do
        ./scripts/environment.sh --build "$environment"
    done
    # One lane beside this host's kernel tests, which run one after another (they share its
    # kernel), a second once they are done: an emulated guest beside one other busy process
    # keeps about half its speed, beside two a third. The lanes take the jobs in this order,
    # so they end together whatever each guest's speed.
    # What the guests run, chosen once, from this host's builds (the same tests in every
    # environment; a binary built in the trixie root needs its glibc).
    guest_suite_tests=$(guest_tests .build/debug/swift-ebpfPackageTests.xctest EBPFTests)
    guest_exporter_tests=$(guest_tests Exporter/.build/debug/ebpf-exporterPackageTests.xctest EBPFExporterTests)
    queue_guests suite:debian11-bcc018 suite:debian13 suite:debian12 \
        exporter:debian11-bcc018 exporter:debian13 exporter:debian12
    lane
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
EBPF_LIFECYCLE_CYCLES=${EBPF_LIFECYCLE_CYCLES:-100} logged swift test --skip-build --disable-swift-testing "$@"

lsan_options="suppressions=$PWD/.lsan-suppressions:leak_check_at_exit=0"
for sanitizer in thread address; do
    part "the test suite under the ${sanitizer} sanitizer"
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

[ $run_guests = 0 ] || lane
part "fuzzing"
logged Fuzz/run.sh
if [ $run_guests = 1 ]; then
    part "waiting for the guests"
    collect_guests
fi
part "done"
end_part
./scripts/write-figures.sh "$run_log" Figures/test-run.md
