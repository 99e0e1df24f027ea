#!/usr/bin/env bash
# Checks what a package depending on the EBPF library resolves: exactly swift-log and
# swift-metrics. ebpf-trace's swift-argument-parser, the examples' and the tools' packages
# must stay out of library users' graphs (SwiftPM resolves a dependency only for the
# products a client uses); a new dependency of the library itself fails this check until
# it is added here on purpose.
#
#   scripts/check-dependencies.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
expected="swift-log swift-metrics"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/Sources/consumer"
cat >"$work/Package.swift" <<SWIFT
// swift-tools-version:6.0
import PackageDescription
let package = Package(
    name: "consumer",
    dependencies: [.package(name: "swift-ebpf", path: "$root")],
    targets: [.executableTarget(name: "consumer", dependencies: [.product(name: "EBPF", package: "swift-ebpf")])]
)
SWIFT
echo 'import EBPF' >"$work/Sources/consumer/main.swift"
if ! (cd "$work" && swift package resolve >"$work/resolve.log" 2>&1); then
    cat "$work/resolve.log" >&2
    echo "check-dependencies: a package depending on EBPF does not resolve" >&2
    exit 1
fi
resolved=$(ls "$work/.build/checkouts" 2>/dev/null | sort | tr '\n' ' ' | sed 's/ $//')
if [ "$resolved" != "$expected" ]; then
    echo "check-dependencies: a package depending on EBPF resolves '$resolved', not '$expected'" >&2
    exit 1
fi
echo "check-dependencies: a package depending on EBPF resolves $resolved only"
