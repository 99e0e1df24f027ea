#!/usr/bin/env bash
# The environments the test suite runs in: a Debian kernel booted by scripts/kernel-vm.sh, the
# userland it runs with, and the libbcc the package is built against and loads.
#
#   ./scripts/environment.sh NAME                  prepare NAME (once) and describe it
#   ./scripts/environment.sh --build NAME [ARGS]   build the package and its tests for NAME
#
# NAME is one of
#   debian12         Debian 12's kernel (the version of the amd64 headers scripts/setup-host.sh
#                    installed, 6.1) with this host's own bookworm userland and libbcc 0.26.
#   debian13         Debian 13's kernel 6.12 with trixie's userland: a debootstrap'ed trixie root
#                    holding libbcc 0.31 (LLVM 19), that kernel installed with its headers, and
#                    what the tests and a Swift build need. The guest runs in that root, with the
#                    project and the Swift toolchain at their host paths.
#   debian11-bcc018  Debian 11's kernel 5.10 and its headers, and bullseye's libbcc 0.18 (LLVM 11)
#                    with the bullseye libraries it needs that bookworm lacks, unpacked beside this
#                    host's bookworm userland (Swift needs glibc >= 2.34, bullseye has 2.31) and
#                    found through LD_LIBRARY_PATH; the package is built with 0.18's headers.
#
# Without --build it prints shell assignments (`eval "$(./scripts/environment.sh debian13)"`):
#   ENVIRONMENT     NAME
#   KERNEL_RELEASE  the guest kernel's release (uname -r in the guest)
#   KERNEL_IMAGE    its vmlinuz, on this host
#   KERNEL_CONFIG   its build configuration, on this host
#   MODULES_ROOT    the directory holding lib/modules/KERNEL_RELEASE (for `modprobe -d`)
#   GUEST_ROOT      the root the guest runs in: / (this host's) or the environment's own root
#   HEADERS_BUILD   what /lib/modules/KERNEL_RELEASE/build must lead to, as a path in GUEST_ROOT
#   HEADERS_SOURCE  what /lib/modules/KERNEL_RELEASE/source must lead to, as a path in GUEST_ROOT
#   LIBRARY_PATH    directories to put first on LD_LIBRARY_PATH (empty: none)
#   INCLUDE_DIR     the directory to pass as `-Xcc -I` when building (empty: the system's)
#   BCC_VERSION     the libbcc release the environment loads
#   SCRATCH_PATH    the build directory --build uses, relative to the project
#   TOOLCHAIN       the Swift toolchain (the directory holding usr/bin/swift), bind-mounted
#                   at the same path into a GUEST_ROOT other than /
#
# --build runs `swift build --build-tests --scratch-path SCRATCH_PATH ARGS` with the environment's
# C headers: for debian13 inside the trixie root (chroot, in a mount namespace of its own, with
# the project and the toolchain bind-mounted, and this host's git URL rewrites, so dependencies
# resolve as here), for debian11-bcc018 on this host with `-Xcc -I INCLUDE_DIR` (checking that
# clang sees 0.18's bcc_version.h and that the CBCC module was built from INCLUDE_DIR), for
# debian12 on this host as is (the default .build, the one scripts/test.sh uses). The test binary is then
# SCRATCH_PATH/debug/swift-ebpfPackageTests.xctest, run in the guest by
# `./scripts/kernel-vm.sh --environment NAME`.
#
# Idempotent: everything is fetched from Debian's archive with apt (bullseye and trixie through a
# list file of its own, without touching this host's apt sources) and kept under
# $EBPF_ENVIRONMENT_CACHE (default /var/cache/swift-ebpf): apt/ (the list file and its indexes)
# and environments/NAME. Each environment's recipe (the function that prepares it and its
# package lists) is its cache key: changing it prepares the environment again; otherwise nothing
# is downloaded. Preparing once takes about 30 s for debian11-bcc018 and a minute for debian13.
set -euo pipefail

say() { printf 'environment: %s\n' "$*" >&2; }
die() { printf 'environment: error: %s\n' "$*" >&2; exit 125; }

project=$(cd "$(dirname "$0")/.." && pwd)
cache_root=${EBPF_ENVIRONMENT_CACHE:-/var/cache/swift-ebpf}
# The Debian mirror this host's apt uses (its first archive that is not the security one), so
# the other suites come from where bookworm comes from.
host_mirror() {
    local file
    for file in /etc/apt/sources.list.d/*.sources; do
        [ -r "$file" ] && awk '/^URIs:/ { for (i = 2; i <= NF; i++) print $i }' "$file"
    done
    for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -r "$file" ] && awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i !~ /^\[/) { print $i; break } }' "$file"
    done
    return 0
}
mirror=${EBPF_DEBIAN_MIRROR:-$({ host_mirror | grep -v -- '-security' | head -n 1; } || true)}
[ -n "$mirror" ] || die "no Debian mirror in this host's apt sources; set EBPF_DEBIAN_MIRROR"
environments=(debian12 debian13 debian11-bcc018)
usage="usage: $0 [--build] NAME [SWIFT BUILD ARGS...], NAME one of: ${environments[*]}"

build=0
if [ "${1:-}" = --build ]; then
    build=1
    shift
fi
[ $# -gt 0 ] || die "$usage"
name=$1
shift
case " ${environments[*]} " in *" $name "*) ;; *) die "unknown environment '$name'; $usage" ;; esac
[ $build -eq 1 ] || [ $# -eq 0 ] || die "$usage"
[ "$(id -u)" -eq 0 ] || die "must run as root (it installs with apt, debootstraps and chroots). Try: sudo $0 $name"
[ "$(uname -m)" = x86_64 ] || die "the environments are Debian amd64; this host is $(uname -m)"
export DEBIAN_FRONTEND=noninteractive

dir=$cache_root/environments/$name
log=$cache_root/environments/$name.log

# --- helpers ----------------------------------------------------------------------------------

# Runs a command with its output in $log; on failure, dies with the log's end.
logged() { # description command...
    local what=$1
    shift
    if ! "$@" >>"$log" 2>&1; then
        tail -n 25 "$log" >&2
        die "$what failed (the whole log: $log)"
    fi
}

host_install() { # package...: installs on this host what is missing
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return
    say "installing ${missing[*]} on this host"
    apt-get update -qq || die "apt-get update failed"
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || die "apt-get install ${missing[*]} failed"
}

# bullseye and trixie, reached through a list file and indexes of their own: the host's apt
# sources, indexes and package cache are not touched.
apt_dir=$cache_root/apt
apt_options=(
    -o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache"
    -o APT::Sandbox::User=root
)
suites_apt() { apt-get "${apt_options[@]}" "$@"; }
suites_cache() { apt-cache "${apt_options[@]}" "$@"; }
suites_update() {
    mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
    local want
    want=$(printf 'deb %s %s main\n' "$mirror" bullseye "$mirror" trixie)
    [ "$(cat "$apt_dir/sources.list" 2>/dev/null)" = "$want" ] || printf '%s\n' "$want" > "$apt_dir/sources.list"
    logged "apt-get update of bullseye and trixie ($apt_dir/sources.list)" suites_apt -q update
}
# The version of PACKAGE that SUITE has.
suite_version() { # package suite
    suites_cache madison "$1" | awk -F'|' -v suite=" $2/" 'index($3, suite) { gsub(/ /, "", $2); print $2; exit }'
}
# The release of SUITE's current amd64 kernel (linux-image-amd64's dependency), e.g. 5.10.0-32-amd64.
suite_kernel() { # suite
    local version release
    version=$(suite_version linux-image-amd64 "$1")
    [ -n "$version" ] || die "$1 has no linux-image-amd64 in $apt_dir/lists"
    release=$(suites_cache show "linux-image-amd64=$version" | sed -n 's/^Depends:.*linux-image-\([^ ,]*-amd64\) .*/\1/p' | head -n 1)
    [ -n "$release" ] || die "cannot find the kernel linux-image-amd64 $version depends on"
    echo "$release"
}
# Downloads the packages (apt-get download arguments: name=version or name/suite) into DIR.
suites_download() { # dir package...
    local into=$1
    shift
    mkdir -p "$into"
    (cd "$into" && logged "apt-get download $*" suites_apt -q download "$@")
}
unpack() { # into deb...
    local into=$1 deb
    shift
    mkdir -p "$into"
    for deb in "$@"; do dpkg-deb -x "$deb" "$into" || die "dpkg-deb -x $deb failed"; done
}

# Mount points under DIR in this mount namespace (a root being removed must have none: rm -rf
# would go through a bind mount into the project or the toolchain).
mounts_under() { # dir
    awk -v d="$1" '{ m = $5; gsub(/\\040/, " ", m); if (m == d || index(m, d "/") == 1) print m }' /proc/self/mountinfo
}
remove() { # dir
    [ -e "$1" ] || return 0
    local mounted
    mounted=$(mounts_under "$1")
    [ -z "$mounted" ] || die "will not remove $1: something is mounted under it ($(echo $mounted)); unmount it first"
    rm -rf "$1"
}

# The Swift toolchain: the directory holding usr/bin/swift.
toolchain() {
    local swift
    if [ -n "${EBPF_SWIFT_TOOLCHAIN:-}" ]; then
        echo "$EBPF_SWIFT_TOOLCHAIN"
        return
    fi
    swift=$(command -v swift 2>/dev/null) || return 0
    swift=$(cd "$(dirname "$swift")" && pwd -P)/swift # swift itself links to swift-frontend
    case "$swift" in */usr/bin/swift) echo "${swift%/usr/bin/swift}" ;; esac
}

# Runs COMMAND chrooted into ROOT, in a mount namespace of its own (unshare: its mounts are
# invisible to this host and end with it), with /proc, /sys and /dev, and each BIND (a host
# directory) at the same path; BIND:ro is read-only. The trap unmounts them all, whatever the
# command's end; the namespace's end would anyway.
in_root() { # root [bind[:ro]...] -- command...
    local root=$1
    shift
    local binds=()
    while [ "$1" != -- ]; do
        binds+=("$1")
        shift
    done
    shift
    unshare --mount --propagation private -- /bin/bash -c '
        root=$1 count=$2
        shift 2
        mounted=()
        cleanup() {
            local i
            for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -R "${mounted[i]}" || umount -R -l "${mounted[i]}"; done
        }
        trap cleanup EXIT
        trap "exit 143" INT TERM HUP
        at() { mkdir -p "$root$1" && mounted+=("$root$1"); }
        at /proc && mount -t proc proc "$root/proc" || exit 125
        at /sys && mount -t sysfs sysfs "$root/sys" || exit 125
        at /dev && mount --rbind /dev "$root/dev" || exit 125
        for ((i = 0; i < count; i++)); do
            path=${1%:ro}
            at "$path" && mount --bind "$path" "$root$path" || exit 125
            [ "$path" = "$1" ] || mount -o remount,bind,ro "$root$path" || exit 125
            shift
        done
        status=0
        chroot "$root" "$@" || status=$?
        exit $status
    ' in-root "$root" "${#binds[@]}" "${binds[@]}" "$@"
}

# The lines the environment prints, each KEY=VALUE quoted for the shell.
describe() { # key value...
    while [ $# -gt 0 ]; do
        printf '%s=%q\n' "$1" "$2"
        shift 2
    done
}

# --- the recipes: each writes $dir/environment (the description) ------------------------------

debian12_release() {
    local headers
    headers=$(ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -n 1)
    [ -n "$headers" ] || die "no /usr/src/linux-headers-*-amd64: run ./scripts/setup-host.sh first (it installs Debian's kernel headers)"
    echo "${headers#/usr/src/linux-headers-}"
}

# This host's bookworm: the kernel of the installed headers, from the host's own apt sources.
prepare_debian12() {
    local release=$1
    [ -e "/lib/modules/$release/source/include/linux/kconfig.h" ] || die "/lib/modules/$release/source does not lead to the $release headers: reinstall linux-headers-$release"
    mkdir -p "$dir/tmp"
    (cd "$dir/tmp" && apt-get download -q "linux-image-$release" >>"$log" 2>&1) || {
        apt-get update -qq && (cd "$dir/tmp" && apt-get download -q "linux-image-$release" >>"$log" 2>&1)
    } || die "apt-get download linux-image-$release failed (Debian must still serve the image matching the installed headers; after a kernel update run ./scripts/setup-host.sh's headers install again)"
    unpack "$dir/kernel" "$dir"/tmp/linux-image-*.deb
    depmod -b "$dir/kernel" "$release"
    rm -rf "$dir/tmp"
    describe KERNEL_RELEASE "$release" \
        KERNEL_IMAGE "$dir/kernel/boot/vmlinuz-$release" KERNEL_CONFIG "$dir/kernel/boot/config-$release" \
        MODULES_ROOT "$dir/kernel" GUEST_ROOT / \
        HEADERS_BUILD "/usr/src/linux-headers-$release" HEADERS_SOURCE "/usr/src/linux-headers-${release%-amd64}-common" \
        LIBRARY_PATH "" INCLUDE_DIR "" SCRATCH_PATH .build > "$dir/environment"
}

# What the trixie root holds beside libbcc and the kernel: the tests' tools (the USDT fixture is
# compiled with /usr/bin/cc from <sys/sdt.h>; readelf, objcopy, bpftool, setpriv, unshare, ip;
# the exporter's Prometheus, openssl, htpasswd and curl),
# and what the host's Swift toolchain needs to run and build there (found by trying: ldd of
# its binaries, then a build).
debian13_packages=(
    libbpfcc-dev kmod bpftool bpftrace
    libc6-dev gcc systemtap-sdt-dev binutils libxml2-utils util-linux iproute2 coreutils python3
    libncurses6 libcurl4t64 libxml2 libsqlite3-0 libstdc++-14-dev libgcc-14-dev git ca-certificates
    prometheus openssl apache2-utils curl
)
prepare_debian13() {
    local release root=$dir/root
    host_install debootstrap
    suites_update
    release=$(suite_kernel trixie)
    say "debootstrap trixie into $root"
    logged "debootstrap --variant=minbase trixie" debootstrap --variant=minbase trixie "$root" "$mirror"
    printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
    chmod 755 "$root/usr/sbin/policy-rc.d"
    # The kernel is installed in the root (its headers depend on it), so the guest has its
    # modules; INITRD=No: no initramfs is made for it (kernel-vm.sh boots its own).
    say "installing libbpfcc-dev and linux-$release with its headers into the trixie root"
    logged "apt-get install in the trixie root" in_root "$root" -- /usr/bin/env DEBIAN_FRONTEND=noninteractive INITRD=No \
        sh -c 'apt-get update -q && apt-get install -y -q --no-install-recommends -o Dpkg::Options::=--force-confold "$@" && apt-get clean' \
        apt "${debian13_packages[@]}" "linux-image-$release" "linux-headers-$release"
    [ -e "$root/usr/src/linux-headers-${release%-amd64}-common/include/linux/kconfig.h" ] || die "the trixie root has no linux-headers-${release%-amd64}-common"
    [ -s "$root/boot/vmlinuz-$release" ] || die "the trixie root has no /boot/vmlinuz-$release"
    local bcc
    bcc=$(chroot "$root" dpkg-query -W -f='${Version}' libbpfcc)
    describe KERNEL_RELEASE "$release" \
        KERNEL_IMAGE "$root/boot/vmlinuz-$release" KERNEL_CONFIG "$root/boot/config-$release" \
        MODULES_ROOT "$root" GUEST_ROOT "$root" \
        HEADERS_BUILD "/usr/src/linux-headers-$release" HEADERS_SOURCE "/usr/src/linux-headers-${release%-amd64}-common" \
        LIBRARY_PATH "" INCLUDE_DIR "" BCC_VERSION "${bcc%%+*}" SCRATCH_PATH .build-debian13 > "$dir/environment"
}

# bullseye's libbcc 0.18 and what its two libraries need that bookworm lacks (LLVM 11, clang 11,
# libbpf 0.3, libffi 7; each has a soname bookworm does not, so LD_LIBRARY_PATH shadows nothing).
debian11_bcc_packages=(
    libbpfcc=0.18.0+ds-2 libbpfcc-dev=0.18.0+ds-2
    libbpf0/bullseye libllvm11/bullseye libclang-cpp11/bullseye libffi7/bullseye
)
prepare_debian11-bcc018() {
    local release common
    suites_update
    release=$(suite_kernel bullseye)
    common=linux-headers-${release%-amd64}-common
    say "downloading linux-image-$release, its headers and libbcc 0.18 from bullseye"
    suites_download "$dir/tmp/kernel" "linux-image-$release/bullseye"
    suites_download "$dir/tmp/headers" "linux-headers-$release/bullseye" "$common/bullseye"
    suites_download "$dir/tmp/bcc" "${debian11_bcc_packages[@]}"
    unpack "$dir/kernel" "$dir"/tmp/kernel/*.deb
    depmod -b "$dir/kernel" "$release"
    unpack "$dir/headers" "$dir"/tmp/headers/*.deb
    unpack "$dir/bcc" "$dir"/tmp/bcc/*.deb
    rm -rf "$dir/tmp"
    local libdir=$dir/bcc/usr/lib/x86_64-linux-gnu include=$dir/bcc/usr/include library missing
    [ -e "$dir/headers/usr/src/$common/include/linux/kconfig.h" ] || die "$common has no include/linux/kconfig.h"
    # Every library libbcc needs, directly or not, is found: bookworm's or one unpacked here.
    for library in libbcc.so.0.18.0 libbcc_bpf.so.0.18.0; do
        [ -e "$libdir/$library" ] || die "libbpfcc 0.18 has no $library"
        missing=$(LD_LIBRARY_PATH=$libdir ldd "$libdir/$library" | awk '/not found/ { print $1 }')
        [ -z "$missing" ] || die "$library needs $(echo $missing), which neither bookworm nor the unpacked bullseye packages have: add its package to debian11_bcc_packages"
    done
    LD_LIBRARY_PATH=$libdir ldd "$libdir/libbcc_bpf.so.0.18.0" | grep -q "libbpf.so.0 => $libdir/" || die "libbcc_bpf.so.0.18.0 does not find bullseye's libbpf.so.0 in $libdir"
    # ... and nothing unpacked there but libbcc shadows a library of this host (the same soname).
    local soname shadowed=()
    for library in "$libdir"/*.so.*; do
        case "$library" in */libbcc.so.* | */libbcc_bpf.so.*) continue ;; esac
        [ -L "$library" ] && continue
        soname=$(objdump -p "$library" 2>/dev/null | awk '$1 == "SONAME" { print $2 }')
        [ -n "$soname" ] && ldconfig -p | grep -q "^[[:space:]]*$soname " && shadowed+=("$soname")
    done
    [ ${#shadowed[@]} -eq 0 ] || die "the bullseye libraries in $libdir would shadow this host's ${shadowed[*]}"
    # The headers the compiler sees first are 0.18's.
    local seen
    seen=$(printf '#include <bcc/bcc_version.h>\nLIBBCC_VERSION\n' | cc -E -P -I "$include" - 2>>"$log" | tail -n 1) || seen=
    [ "$seen" = '"0.18.0"' ] || die "with -I $include the compiler sees libbcc version ${seen:-none}, not 0.18.0"
    describe KERNEL_RELEASE "$release" \
        KERNEL_IMAGE "$dir/kernel/boot/vmlinuz-$release" KERNEL_CONFIG "$dir/kernel/boot/config-$release" \
        MODULES_ROOT "$dir/kernel" GUEST_ROOT / \
        HEADERS_BUILD "$dir/headers/usr/src/linux-headers-$release" HEADERS_SOURCE "$dir/headers/usr/src/$common" \
        LIBRARY_PATH "$libdir" INCLUDE_DIR "$include" BCC_VERSION 0.18.0 SCRATCH_PATH .build-debian11-bcc018 > "$dir/environment"
}

# --- prepare once -------------------------------------------------------------------------------

# The cache key: the recipe's code (comments aside) and its inputs.
recipe() {
    declare -f "prepare_$name" logged host_install suites_update suite_version suite_kernel suites_download unpack in_root describe
    echo "$mirror"
    case "$name" in
        debian12) debian12_release ;;
        debian13) echo "${debian13_packages[*]}" ;;
        debian11-bcc018) echo "${debian11_bcc_packages[*]}" ;;
    esac
}
key=$(recipe | sha256sum | cut -c1-16)

mkdir -p "$cache_root/environments"
exec 9>"$dir.lock"
flock 9 # one preparation at a time
if [ "$(cat "$dir/key" 2>/dev/null)" != "$key" ] || [ ! -s "$dir/environment" ]; then
    say "preparing $name in $dir (once)"
    started=$SECONDS
    remove "$dir"
    mkdir -p "$dir"
    : > "$log"
    if [ "$name" = debian12 ]; then prepare_debian12 "$(debian12_release)"; else "prepare_$name"; fi
    echo "$key" > "$dir/key"
    say "prepared $name in $((SECONDS - started)) s"
fi
exec 9>&-

# --- describe, or build -------------------------------------------------------------------------

description() {
    describe ENVIRONMENT "$name"
    cat "$dir/environment"
    # This host's libbcc, when the environment is this host's.
    [ "$name" != debian12 ] || describe BCC_VERSION "$(dpkg-query -W -f='${Version}' libbpfcc 2>/dev/null | sed 's/^[0-9]*://; s/[+-].*//')"
    describe TOOLCHAIN "$(toolchain)"
}

if [ $build -eq 0 ]; then
    description
    exit 0
fi

eval "$(description)"
[ -n "$TOOLCHAIN" ] || die "no Swift toolchain: swift is not on PATH (or set EBPF_SWIFT_TOOLCHAIN to the directory holding usr/bin/swift)"
arguments=(build --build-tests)
case " $* " in *" --scratch-path "* | *" --scratch-path="*) ;; *) arguments+=(--scratch-path "$SCRATCH_PATH") ;; esac
[ -z "$INCLUDE_DIR" ] || arguments+=(-Xcc "-I$INCLUDE_DIR")
arguments+=("$@")
cd "$project"
say "building for $name: swift ${arguments[*]}"
if [ "$GUEST_ROOT" = / ] && [ -z "$INCLUDE_DIR" ]; then
    exec "$TOOLCHAIN/usr/bin/swift" "${arguments[@]}"
fi
if [ "$GUEST_ROOT" = / ]; then
    # The toolchain's clang, given the include directory, sees the environment's libbcc headers ...
    seen=$(printf '#include <bcc/bcc_version.h>\nLIBBCC_VERSION\n' | "$TOOLCHAIN/usr/bin/clang" -E -P -I "$INCLUDE_DIR" - 2>/dev/null | tail -n 1) || seen=
    [ "$seen" = "\"$BCC_VERSION\"" ] || die "with -I $INCLUDE_DIR the toolchain's clang sees libbcc ${seen:-no version}, not $BCC_VERSION"
    "$TOOLCHAIN/usr/bin/swift" "${arguments[@]}"
    # ... and the CBCC module the build imported was made from them.
    bin=$("$TOOLCHAIN/usr/bin/swift" "${arguments[@]}" --show-bin-path)
    modules=$(find "$bin/ModuleCache" -name 'CBCC-*.pcm' 2>/dev/null) || modules=
    [ -n "$modules" ] || die "the build made no CBCC module (no CBCC-*.pcm under $bin/ModuleCache)"
    for module in $modules; do
        grep -q "$INCLUDE_DIR/bcc/bcc_common.h" "$module" || die "$module was not built from $INCLUDE_DIR/bcc/bcc_common.h"
    done
    exit 0
fi
# This host's git URL rewrites (url.BASE.insteadOf, e.g. to local mirrors of GitHub), so that
# the build in the root resolves the package's dependencies as this host does: passed in git's
# environment, each local BASE bind-mounted read-only.
binds=("$project" "$TOOLCHAIN:ro")
git_config=()
count=0
while read -r git_key git_value; do
    git_config+=("GIT_CONFIG_KEY_$count=$git_key" "GIT_CONFIG_VALUE_$count=$git_value")
    count=$((count + 1))
    git_base=${git_key#url.}
    git_base=${git_base%.insteadof}
    case "$git_base" in
        /*) [ ! -d "$git_base" ] || case " ${binds[*]} " in *" ${git_base%/}:ro "*) ;; *) binds+=("${git_base%/}:ro") ;; esac ;;
    esac
done < <(cd / && git config --get-regexp '^url\..*\.insteadof$' 2>/dev/null || true)
in_root "$GUEST_ROOT" "${binds[@]}" -- /usr/bin/env -i HOME=/root TERM="${TERM:-dumb}" LANG=C.UTF-8 \
    PATH="$TOOLCHAIN/usr/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    GIT_CONFIG_COUNT=$count "${git_config[@]}" \
    /bin/sh -c 'cd "$1" && shift && exec swift "$@"' build "$project" "${arguments[@]}"
