#!/usr/bin/env bash
# Prepares this host for building and running the EBPF package. Idempotent: every step
# checks before it acts, so running it twice changes nothing the second time.
#
#   - installs libbcc and its compiler (libbpfcc-dev, libclang-dev, llvm-dev), kmod,
#     bcc's Python binding and tools (python3-bpfcc, bpfcc-tools; the reference and the
#     benchmark baseline), bpftool (the tests' independent view of what is attached),
#     prometheus (the real server the exporter's tests scrape it with), chromium (the real
#     browser the flame graph's script is tested in) and xmllint (libxml2-utils: the flame
#     graph's SVG is well-formed), htpasswd (apache2-utils: writes the bcrypt hashes of the
#     exporter's web configuration, as Prometheus's documentation does) and openssl (the
#     certificates its TLS test makes) with apt;
#   - makes kernel headers available at /lib/modules/$(uname -r)/build, installing the
#     distribution's headers and linking them when this kernel has no package of its own;
#   - mounts tracefs, debugfs and securityfs (the active LSMs) when they are not mounted.
set -euo pipefail

say() { printf 'setup-host: %s\n' "$*"; }
die() { printf 'setup-host: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (it installs packages with apt, links kernel headers and mounts tracefs). Try: sudo $0"

export DEBIAN_FRONTEND=noninteractive
packages=(libbpfcc-dev libclang-dev llvm-dev kmod python3-bpfcc bpfcc-tools bpftool bpftrace pkg-config binutils prometheus systemtap-sdt-dev gcc libc6-dev chromium libxml2-utils apache2-utils openssl)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
apt_updated=0
apt_install() {
    if [ "$apt_updated" -eq 0 ]; then
        apt-get update -qq || die "apt-get update failed"
        apt_updated=1
    fi
    apt-get install -y -qq --no-install-recommends "$@" >/dev/null || die "apt-get install $* failed"
}
if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    apt_install "${missing[@]}"
fi

# Kernel headers: bcc compiles against /lib/modules/$(uname -r)/build.
release=$(uname -r)
moddir=/lib/modules/$release
if [ ! -e "$moddir/build/include/linux/kconfig.h" ] && [ ! -e "$moddir/source/include/linux/kconfig.h" ]; then
    exact="linux-headers-$release"
    if apt-cache show "$exact" >/dev/null 2>&1; then
        say "installing $exact"
        apt_install "$exact"
    else
        arch=$(dpkg --print-architecture)
        generic="linux-headers-$arch"
        dpkg-query -W -f='${Status}' "$generic" 2>/dev/null | grep -q "install ok installed" || {
            say "no headers package for kernel $release; installing the distribution's $generic"
            apt_install "$generic"
        }
        # Debian splits headers into <ver>-<arch> (generated, Kconfig) and <ver>-common (sources).
        built=$(ls -d /usr/src/linux-headers-*-"$arch" 2>/dev/null | sort -V | tail -n 1)
        [ -n "$built" ] || die "no /usr/src/linux-headers-*-$arch after installing $generic"
        common="${built%-"$arch"}-common"
        [ -d "$common" ] || common="$built"
        mkdir -p "$moddir"
        ln -sfn "$built" "$moddir/build"
        ln -sfn "$common" "$moddir/source"
        say "linked $moddir/build -> $built and $moddir/source -> $common"
    fi
fi

mount_if_needed() { # type, mount point
    if ! mountpoint -q "$2"; then
        mkdir -p "$2"
        mount -t "$1" "$1" "$2" || die "could not mount $1 at $2"
        say "mounted $1 at $2"
    fi
}
mount_if_needed debugfs /sys/kernel/debug
mount_if_needed tracefs /sys/kernel/tracing
mount_if_needed securityfs /sys/kernel/security
say "host ready (kernel $release)"
