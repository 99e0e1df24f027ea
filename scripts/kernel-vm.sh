#!/usr/bin/env bash
# Runs a command inside a second kernel -- Debian's own linux-image, which has kprobes --
# booted under qemu, with this host's filesystem shared read-only into it, and returns the
# command's exit status. The kernel tests use it to prove every attach kind on a kernel
# users run (the host's may lack CONFIG_KPROBES).
#
#   ./scripts/kernel-vm.sh [--environment NAME] [--kernel-version] COMMAND [ARGS...]
#
# COMMAND runs as root in the project's directory, with the caller's PATH and EBPF_*
# variables, plus EBPF_KERNEL_VM (the guest's release), EBPF_KERNEL_CONFIG (its build
# configuration), EBPF_ENVIRONMENT (NAME), EBPF_EXPECTED_LIBBCC (the libbcc release the
# environment provides) and, for debian11-bcc018, LD_LIBRARY_PATH; its output streams to
# this terminal.
# `--kernel-version` only prepares the guest and prints its kernel release.
#
# NAME is an environment of scripts/environment.sh, which prepares it (once) and describes it:
#   debian12 (the default): Debian 12's kernel, the version of the headers scripts/setup-host.sh
#     installed (6.1), with this host's userland, so libbcc in the guest compiles against
#     exactly its own headers;
#   debian13: Debian 13's kernel 6.12 in its own trixie root (libbcc 0.31), with the project
#     and the Swift toolchain at their host paths in it: run a build of
#     `./scripts/environment.sh --build debian13` (.build-debian13), made with trixie's headers;
#   debian11-bcc018: Debian 11's kernel 5.10 with this host's userland and bullseye's libbcc
#     0.18 first on LD_LIBRARY_PATH: run a build of `./scripts/environment.sh --build
#     debian11-bcc018` (.build-debian11-bcc018), made with 0.18's headers.
# In the guest, /lib/modules/$(uname -r)/build and source lead to the guest kernel's headers.
#
# Idempotent: it installs qemu and busybox with apt, and builds an initramfs of the guest
# kernel's modules once per kernel version under $EBPF_KERNEL_VM_CACHE (default
# /var/cache/swift-ebpf/kernel-vm); the kernel itself is the environment's (nothing is
# installed into /boot).
#
# The guest mounts the host's / read-only over 9p under a tmpfs overlay: it sees the
# toolchain, libbcc and the build where they are (the project may live anywhere, /tmp too),
# and what it writes stays in its memory. An environment with a root of its own (debian13)
# runs in that root (a directory of the host, under an overlay of its own), into which the
# project, the toolchain and the job's directory are bind-mounted from the host's overlay.
#
# Measured on the 2-core machine this project runs on: /dev/kvm exists but a guest under
# -enable-kvm hangs at early boot, so the guest runs under software emulation (TCG): it
# boots in about 7 s, and everything in it runs some 10-30 times slower than on the host.
#
# Environment: EBPF_KERNEL_VM_TIMEOUT (seconds, default 4800) ends a guest that hangs (a whole suite under
# emulation takes 10-25 min alone, and twice that and more beside two other guests and a build);
# EBPF_KERNEL_VM_MEMORY (MiB, default 6144); EBPF_KERNEL_VM_TCG_THREAD (single, the default, or
# multi: see the soft lockup below).
set -euo pipefail

say() { printf 'kernel-vm: %s\n' "$*" >&2; }
die() { printf 'kernel-vm: error: %s\n' "$*" >&2; exit 125; }

project=$(cd "$(dirname "$0")/.." && pwd)
usage="usage: $0 [--environment NAME] [--kernel-version] COMMAND [ARGS...]"
[ "$(id -u)" -eq 0 ] || die "must run as root (it installs qemu with apt and reads the whole host filesystem into the guest). Try: sudo $0"
[ "$(uname -m)" = x86_64 ] || die "the guest is Debian's amd64 kernel under qemu-system-x86_64; this host is $(uname -m)"
environment=debian12
kernel_version=0
while [ $# -gt 0 ]; do
    case "$1" in
        --environment) [ $# -ge 2 ] || die "$usage"; environment=$2; shift 2 ;;
        --environment=*) environment=${1#--environment=}; shift ;;
        --kernel-version) kernel_version=1; shift ;;
        *) break ;;
    esac
done
[ $# -gt 0 ] || [ $kernel_version -eq 1 ] || die "$usage"

# --- tools -----------------------------------------------------------------------------
export DEBIAN_FRONTEND=noninteractive
missing=()
for p in qemu-system-x86 busybox-static kmod cpio xz-utils; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    apt-get update -qq || die "apt-get update failed"
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || die "apt-get install ${missing[*]} failed"
fi

# --- the guest kernel and its root: the environment's --------------------------------------------
# KERNEL_RELEASE, KERNEL_IMAGE, KERNEL_CONFIG, MODULES_ROOT, GUEST_ROOT, HEADERS_BUILD,
# HEADERS_SOURCE, LIBRARY_PATH, TOOLCHAIN (see scripts/environment.sh).
description=$("$project/scripts/environment.sh" "$environment") || exit $?
eval "$description"
release=$KERNEL_RELEASE
[ -s "$KERNEL_IMAGE" ] || die "environment $environment has no kernel image $KERNEL_IMAGE"
# A path of this host as the guest's job sees it (in GUEST_ROOT when that is not /).
guest_path() { # path
    case "$GUEST_ROOT" in
        /) echo "$1" ;;
        *) case "$1" in "$GUEST_ROOT"/*) echo "${1#"$GUEST_ROOT"}" ;; *) echo "$1" ;; esac ;;
    esac
}
[ -e "$GUEST_ROOT$(guest_path "$HEADERS_SOURCE")/include/linux/kconfig.h" ] || die "environment $environment: $HEADERS_SOURCE (in $GUEST_ROOT) has no include/linux/kconfig.h"

cache=${EBPF_KERNEL_VM_CACHE:-/var/cache/swift-ebpf/kernel-vm}/$release
init_script=$(cat <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
fail() { echo "kernel-vm guest: $*"; echo "KERNEL_VM_STATUS_$token=125"; poweroff -f; }
for arg in $(cat /proc/cmdline); do
    case "$arg" in
        kernel_vm.job=*) job=${arg#kernel_vm.job=} ;;
        kernel_vm.token=*) token=${arg#kernel_vm.token=} ;;
    esac
done
while read -r module; do insmod "/modules/$module" || fail "insmod $module failed"; done < /modules/order
mkdir -p /host /rw /root
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose hostroot /host || fail "cannot mount the host's root over 9p"
mount -t tmpfs -o size=80% tmpfs /rw
mkdir -p /rw/upper /rw/work
mount -t overlay overlay -o lowerdir=/host,upperdir=/rw/upper,workdir=/rw/work /root || fail "cannot mount the overlay root"
# An environment's own root: the first line of the job directory's guest-root file, a
# directory of the host, under an overlay of its own; each further line a directory bind-mounted
# into it from the host's overlay.
new=/root
guest=/root${job%/*}/guest-root
if [ -r "$guest" ]; then
    new=/env
    mkdir -p /env /rw/env-upper /rw/env-work
    first=1
    while IFS= read -r path; do
        if [ $first = 1 ]; then
            mount -t overlay overlay -o "lowerdir=/host$path,upperdir=/rw/env-upper,workdir=/rw/env-work" /env || fail "cannot mount the overlay of $path"
            first=0
        else
            mkdir -p "/env$path" && mount -o bind "/root$path" "/env$path" || fail "cannot bind-mount $path into the root"
        fi
    done < "$guest"
fi
mount -t proc proc $new/proc
mount -t sysfs sysfs $new/sys
mount -t devtmpfs devtmpfs $new/dev
mkdir -p $new/dev/pts $new/dev/shm
mount -t devpts devpts $new/dev/pts
mount -t tmpfs tmpfs $new/dev/shm
mount -t tmpfs tmpfs $new/run
mount -t debugfs debugfs $new/sys/kernel/debug
mount -t tracefs tracefs $new/sys/kernel/tracing
mount -t securityfs securityfs $new/sys/kernel/security
mount -t bpf bpf $new/sys/fs/bpf 2>/dev/null
# The unified cgroup hierarchy, as systemd mounts it on Debian 11 and later (the cgroup tests
# make cgroups in it).
mount -t cgroup2 cgroup2 $new/sys/fs/cgroup 2>/dev/null
ip link set lo up
hostname kernel-vm
[ -r "$new$job" ] || fail "cannot read the job file $job"
chroot $new /bin/bash "$job" # bash: the job quotes with printf %q, whose $'...' dash cannot read
echo "KERNEL_VM_STATUS_$token=$?"
sync
poweroff -f
INIT
)
# The init script, where the modules come from and the kernel image they belong to (its size
# and time: an environment prepared again may bring a rebuilt kernel of the same release) are
# the cache key: changing any rebuilds the initramfs.
# The modules the guest loads at boot: for the host's root over 9p and the overlay, then
# for the packet programs' tests (veth pairs, tc's clsact qdisc and bpf classifier).
initramfs_modules="virtio_pci 9pnet_virtio 9p overlay veth sch_ingress cls_bpf"
key=$(printf '%s\n%s\n%s\n%s' "$init_script" "$MODULES_ROOT" "$(stat -c '%s %Y' "$KERNEL_IMAGE")" "$initramfs_modules" |
    sha256sum | cut -c1-16)

# One initramfs per key, written to a directory of this run's own and renamed into place:
# runs of different versions of this script (a CI clone beside a working tree) share the
# cache without rebuilding or overwriting each other's.
initramfs_image=$cache/initramfs-$key.cpio.gz
prepare() {
    local work=$cache/tmp.$$
    rm -rf "$work" && mkdir -p "$work"
    say "preparing the initramfs of the guest kernel $release in $cache (once)"
    local initramfs=$work/initramfs
    mkdir -p "$initramfs"/{bin,dev,proc,sys,modules}
    cp /bin/busybox "$initramfs/bin/busybox"
    # The modules that mount the host over 9p and the overlay, in dependency order,
    # uncompressed (busybox's insmod reads them as they are; trixie's are .ko.xz).
    local module
    for module in $initramfs_modules; do
        modprobe -d "$MODULES_ROOT" -S "$release" --show-depends "$module" | awk '$1 == "insmod" { print $2 }'
    done | awk '!seen[$0]++' | while read -r path; do
        name=$(basename "$path")
        case "$name" in
            *.ko.xz) name=${name%.xz}; xz -dc "$path" > "$initramfs/modules/$name" ;;
            *.ko.zst) name=${name%.zst}; zstd -qdc "$path" > "$initramfs/modules/$name" ;;
            *.ko.gz) name=${name%.gz}; gzip -dc "$path" > "$initramfs/modules/$name" ;;
            *) cp "$path" "$initramfs/modules/" ;;
        esac || die "cannot copy the module $path into the initramfs"
        echo "$name" >> "$initramfs/modules/order"
    done
    [ -s "$initramfs/modules/order" ] || die "no modules for 9p and overlay found under $MODULES_ROOT/lib/modules/$release"
    printf '%s\n' "$init_script" > "$initramfs/init"
    chmod 755 "$initramfs/init"
    (cd "$initramfs" && find . | cpio -o -H newc --quiet | gzip -1) > "$work/initramfs.cpio.gz"
    mv "$work/initramfs.cpio.gz" "$initramfs_image"
    rm -rf "$work" "$cache/vmlinuz" "$cache/config" # those two: left by the version that downloaded the kernel itself
    find "$cache" -maxdepth 1 -name 'initramfs-*.cpio.gz' -mtime +7 -delete
}
mkdir -p "$cache"
if [ ! -s "$initramfs_image" ]; then
    prepare
fi

if [ $kernel_version -eq 1 ]; then
    echo "$release"
    exit 0
fi

# --- the job: a script on the host, read by the guest through the shared root -----------------
jobdir=$(mktemp -d /var/tmp/kernel-vm-job.XXXXXX)
log=$jobdir/console.log
# The guest must not outlive this script, however it ends (a CI time-out sends SIGTERM).
stop_guest() {
    local pid
    pid=$(cat "$jobdir/qemu.pid" 2>/dev/null) && kill "$pid" 2>/dev/null
    rm -rf "$jobdir"
}
trap stop_guest EXIT
trap 'exit 143' INT TERM HUP
token=$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')
{
    echo "cd $(printf '%q' "$project") || exit 125"
    echo "export HOME=/root TERM=dumb PATH=$(printf '%q' "$PATH")"
    env | awk -F= '/^EBPF_[A-Z0-9_]*=/ { print $1 }' | while read -r name; do
        echo "export $name=$(printf '%q' "${!name}")"
    done
    echo "export EBPF_KERNEL_VM=$(printf '%q' "$release") EBPF_KERNEL_CONFIG=$(printf '%q' "$(guest_path "$KERNEL_CONFIG")")"
    echo "export EBPF_ENVIRONMENT=$(printf '%q' "$environment") EBPF_EXPECTED_LIBBCC=$(printf '%q' "$BCC_VERSION")"
    [ -z "$LIBRARY_PATH" ] || echo "export LD_LIBRARY_PATH=$(printf '%q' "$LIBRARY_PATH")"
    # /lib/modules/<release>/{build,source}: the guest kernel's headers (the overlay is writable).
    for link in build:"$HEADERS_BUILD" source:"$HEADERS_SOURCE"; do
        target=$(printf '%q' "${link#*:}")
        modules=$(printf '%q' "/lib/modules/$release")
        echo "[ \"\$(readlink -f $modules/${link%%:*})\" = \"\$(readlink -f $target)\" ] || { mkdir -p $modules && ln -sfn $target $modules/${link%%:*}; } || exit 125"
    done
    printf 'exec'
    printf ' %q' "$@"
    echo
} > "$jobdir/job.sh"
if [ "$GUEST_ROOT" != / ]; then
    # The environment's root, then what is bind-mounted into it (see the init script).
    {
        echo "$GUEST_ROOT"
        echo "$project"
        [ -z "$TOOLCHAIN" ] || echo "$TOOLCHAIN"
        echo "$jobdir"
    } > "$jobdir/guest-root"
fi

say "booting Debian's $release ($environment) under qemu (software emulation) to run: $*"
# thread=single: qemu 7.2's multi-threaded TCG runs a vCPU on stale translated code after the
# other vCPU live-patches the kernel's text (a static key flipped when a syscall tracepoint is
# enabled or disabled): the vCPU stays stuck at the patched site in syscall_trace_enter, and the
# guest soft-locks. Toggling syscalls:sys_enter_read while two tasks sleep in a loop locked the
# guest within 20 s with thread=multi, and ran 240 s (1,183 toggles) cleanly with thread=single,
# which runs both vCPUs on one host thread. EBPF_KERNEL_VM_TCG_THREAD=multi brings it back.
# softlockup_panic: should a guest kernel still lock up, it panics, and the run fails at once
# with the lockup on the console instead of waiting out the time-out.
# lsm: the BPF LSM among the active ones, which Debian 11's kernel leaves out by default
# (12's and 13's list it), so LSM programs run in every guest.
guest_lsm=landlock,lockdown,yama,integrity,apparmor,bpf
# In the background with `wait`, so that a signal to this script runs its traps at once.
(
    set +e  # qemu's own status (124: the time-out) is recorded, not fatal here
    timeout --kill-after=10 "${EBPF_KERNEL_VM_TIMEOUT:-4800}" qemu-system-x86_64 \
        -accel "tcg,thread=${EBPF_KERNEL_VM_TCG_THREAD:-single}" -cpu max -smp 2 -m "${EBPF_KERNEL_VM_MEMORY:-6144}" \
        -kernel "$KERNEL_IMAGE" -initrd "$initramfs_image" \
        -append "console=ttyS0 quiet loglevel=3 panic=-1 softlockup_panic=1 lsm=$guest_lsm kernel_vm.job=$jobdir/job.sh kernel_vm.token=$token" \
        -virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap" \
        -nic none -no-reboot -display none -monitor none -serial stdio -pidfile "$jobdir/qemu.pid" < /dev/null \
        | sed -u 's/\r$//' | tee "$log" | grep --line-buffered -av "^KERNEL_VM_STATUS_$token="
    echo "${PIPESTATUS[0]}" > "$jobdir/qemu.status"
) &
wait $!
qemu_status=$(cat "$jobdir/qemu.status" 2>/dev/null || echo "?")
status=$(grep -a "^KERNEL_VM_STATUS_$token=" "$log" | tail -n 1 | cut -d= -f2)
if [ -z "$status" ]; then
    [ "$qemu_status" = 124 ] && die "the guest did not finish within ${EBPF_KERNEL_VM_TIMEOUT:-4800} s"
    die "the guest stopped without reporting the command's exit status (qemu exited $qemu_status); its console is above"
fi
exit "$status"
