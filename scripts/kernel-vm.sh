#!/usr/bin/env bash
# Runs a command inside a second kernel -- Debian's own linux-image, which has kprobes --
# booted under qemu, with this host's filesystem shared read-only into it, and returns the
# command's exit status. The kernel tests use it to prove every attach kind on a kernel
# users run (the host's may lack CONFIG_KPROBES).
#
#   ./scripts/kernel-vm.sh [--kernel-version] COMMAND [ARGS...]
#
# COMMAND runs as root in the project's directory, with the caller's PATH and EBPF_*
# variables, plus EBPF_KERNEL_VM (the guest's release) and EBPF_KERNEL_CONFIG (its build
# configuration), and its output streams to this terminal. `--kernel-version` only prepares the
# guest and prints its kernel release.
#
# Idempotent: it installs qemu and busybox with apt, then once per kernel version
# downloads the kernel package (apt-get download; nothing is installed into /boot), and
# builds an initramfs under $EBPF_KERNEL_VM_CACHE (default /var/cache/swift-ebpf/kernel-vm).
# The guest kernel is the version of the headers scripts/setup-host.sh installed, so libbcc
# in the guest compiles against exactly its own headers.
#
# The guest mounts the host's / read-only over 9p under a tmpfs overlay: it sees the
# toolchain, libbcc and the build where they are (the project may live anywhere, /tmp too),
# and what it writes stays in its memory.
#
# Measured on the 2-core machine this project runs on: /dev/kvm exists but a guest under
# -enable-kvm hangs at early boot, so the guest runs under software emulation (TCG): it
# boots in about 7 s, and everything in it runs some 10-30 times slower than on the host.
#
# Environment: EBPF_KERNEL_VM_TIMEOUT (seconds, default 2400) ends a guest that hangs;
# EBPF_KERNEL_VM_MEMORY (MiB, default 6144); EBPF_KERNEL_VM_TCG_THREAD (single, the default, or
# multi: see the soft lockup below).
set -euo pipefail

say() { printf 'kernel-vm: %s\n' "$*" >&2; }
die() { printf 'kernel-vm: error: %s\n' "$*" >&2; exit 125; }

project=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" -eq 0 ] || die "must run as root (it installs qemu with apt and reads the whole host filesystem into the guest). Try: sudo $0"
[ "$(uname -m)" = x86_64 ] || die "the guest is Debian's amd64 kernel under qemu-system-x86_64; this host is $(uname -m)"
[ $# -gt 0 ] || die "usage: $0 [--kernel-version] COMMAND [ARGS...]"

# --- tools -----------------------------------------------------------------------------
export DEBIAN_FRONTEND=noninteractive
missing=()
for p in qemu-system-x86 busybox-static kmod cpio; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    apt-get update -qq || die "apt-get update failed"
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || die "apt-get install ${missing[*]} failed"
fi

# --- the guest kernel: the version of the installed amd64 headers --------------------------
headers=$(ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -n 1)
[ -n "$headers" ] || die "no /usr/src/linux-headers-*-amd64: run ./scripts/setup-host.sh first (it installs Debian's kernel headers)"
release=${headers#/usr/src/linux-headers-}
[ -e "/lib/modules/$release/source/include/linux/kconfig.h" ] || die "/lib/modules/$release/source does not lead to the $release headers: reinstall linux-headers-$release"

cache=${EBPF_KERNEL_VM_CACHE:-/var/cache/swift-ebpf/kernel-vm}/$release
# The init script is part of the cache key: changing it rebuilds the initramfs.
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
mount -t proc proc /root/proc
mount -t sysfs sysfs /root/sys
mount -t devtmpfs devtmpfs /root/dev
mkdir -p /root/dev/pts /root/dev/shm
mount -t devpts devpts /root/dev/pts
mount -t tmpfs tmpfs /root/dev/shm
mount -t tmpfs tmpfs /root/run
mount -t debugfs debugfs /root/sys/kernel/debug
mount -t tracefs tracefs /root/sys/kernel/tracing
mount -t bpf bpf /root/sys/fs/bpf 2>/dev/null
ip link set lo up
hostname kernel-vm
[ -r "/root$job" ] || fail "cannot read the job file $job"
chroot /root /bin/sh "$job"
echo "KERNEL_VM_STATUS_$token=$?"
sync
poweroff -f
INIT
)
key=$(printf '%s' "$init_script" | sha256sum | cut -c1-16)

prepare() {
    local work=$cache/tmp
    rm -rf "$work" && mkdir -p "$work"
    say "preparing the guest kernel $release in $cache (once)"
    (cd "$work" && apt-get download -q "linux-image-$release" >/dev/null 2>&1) || {
        apt-get update -qq && (cd "$work" && apt-get download -q "linux-image-$release" >/dev/null)
    } || die "apt-get download linux-image-$release failed (Debian must still serve the image matching the installed headers; after a kernel update run ./scripts/setup-host.sh's headers install again)"
    dpkg-deb -x "$work"/linux-image-*.deb "$work/image"
    depmod -b "$work/image" "$release"
    local initramfs=$work/initramfs
    mkdir -p "$initramfs"/{bin,dev,proc,sys,modules}
    cp /bin/busybox "$initramfs/bin/busybox"
    # The modules that mount the host over 9p and the overlay, in dependency order.
    local module
    for module in virtio_pci 9pnet_virtio 9p overlay; do
        modprobe -d "$work/image" -S "$release" --show-depends "$module" | awk '$1 == "insmod" { print $2 }'
    done | awk '!seen[$0]++' | while read -r path; do
        cp "$path" "$initramfs/modules/"
        basename "$path" >> "$initramfs/modules/order"
    done
    printf '%s\n' "$init_script" > "$initramfs/init"
    chmod 755 "$initramfs/init"
    (cd "$initramfs" && find . | cpio -o -H newc --quiet | gzip -1) > "$work/initramfs.cpio.gz"
    cp "$work/image/boot/vmlinuz-$release" "$work/vmlinuz"
    cp "$work/image/boot/config-$release" "$work/config"
    mv "$work/vmlinuz" "$work/config" "$work/initramfs.cpio.gz" "$cache/"
    rm -rf "$work"
    echo "$key" > "$cache/key"
}
mkdir -p "$cache"
[ "$(cat "$cache/key" 2>/dev/null)" = "$key" ] && [ -s "$cache/vmlinuz" ] || prepare

if [ "$1" = --kernel-version ]; then
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
    echo "export EBPF_KERNEL_VM=$(printf '%q' "$release") EBPF_KERNEL_CONFIG=$(printf '%q' "$cache/config")"
    printf 'exec'
    printf ' %q' "$@"
    echo
} > "$jobdir/job.sh"

say "booting Debian's $release under qemu (software emulation) to run: $*"
# thread=single: qemu 7.2's multi-threaded TCG runs a vCPU on stale translated code after the
# other vCPU live-patches the kernel's text (a static key flipped when a syscall tracepoint is
# enabled or disabled): the vCPU stays stuck at the patched site in syscall_trace_enter, and the
# guest soft-locks. Toggling syscalls:sys_enter_read while two tasks sleep in a loop locked the
# guest within 20 s with thread=multi, and ran 240 s (1,183 toggles) cleanly with thread=single,
# which runs both vCPUs on one host thread. EBPF_KERNEL_VM_TCG_THREAD=multi brings it back.
# softlockup_panic: should a guest kernel still lock up, it panics, and the run fails at once
# with the lockup on the console instead of waiting out the time-out.
# In the background with `wait`, so that a signal to this script runs its traps at once.
(
    timeout --kill-after=10 "${EBPF_KERNEL_VM_TIMEOUT:-2400}" qemu-system-x86_64 \
        -accel "tcg,thread=${EBPF_KERNEL_VM_TCG_THREAD:-single}" -cpu max -smp 2 -m "${EBPF_KERNEL_VM_MEMORY:-6144}" \
        -kernel "$cache/vmlinuz" -initrd "$cache/initramfs.cpio.gz" \
        -append "console=ttyS0 quiet loglevel=3 panic=-1 softlockup_panic=1 kernel_vm.job=$jobdir/job.sh kernel_vm.token=$token" \
        -virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap" \
        -nic none -no-reboot -display none -monitor none -serial stdio -pidfile "$jobdir/qemu.pid" < /dev/null \
        | sed -u 's/\r$//' | tee "$log" | grep --line-buffered -av "^KERNEL_VM_STATUS_$token="
    echo "${PIPESTATUS[0]}" > "$jobdir/qemu.status"
) &
wait $!
qemu_status=$(cat "$jobdir/qemu.status" 2>/dev/null || echo "?")
status=$(grep -a "^KERNEL_VM_STATUS_$token=" "$log" | tail -n 1 | cut -d= -f2)
if [ -z "$status" ]; then
    [ "$qemu_status" = 124 ] && die "the guest did not finish within ${EBPF_KERNEL_VM_TIMEOUT:-2400} s"
    die "the guest stopped without reporting the command's exit status (qemu exited $qemu_status); its console is above"
fi
exit "$status"
