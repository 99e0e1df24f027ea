#!/usr/bin/env bash
# The README's main job: prepares the host (idempotent), then traces every openat() on the
# machine for a few seconds with the opensnoop example, while opening a few files itself so
# there is something to see.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup-host.sh
swift build --product opensnoop
( sleep 1.5; for f in /etc/hostname /etc/os-release /proc/version; do cat "$f" >/dev/null; done ) &
swift run --skip-build opensnoop "${1:-5}"
wait
