#!/usr/bin/env bash
# The README's main job: prepares the host (idempotent), then runs ebpf-trace, the
# command-line tracer built on the library's closure probes, for a few seconds on bind,
# connect, openat and execve, while a small workload gives it something to see.
#
#   ./scripts/run.sh [seconds] [ebpf-trace options...]
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup-host.sh
swift build --product ebpf-trace
seconds=${1:-5}
shift || true
(
    sleep 2
    cat /etc/hostname >/dev/null
    # A bind, then a connect to a listener of its own on loopback.
    python3 -c 'import socket; s = socket.socket(); s.bind(("0.0.0.0", 31337)); s.listen(); c = socket.create_connection(("127.0.0.1", 31337)); c.close(); s.close()'
    sh -c 'exec true'
) &
swift run --skip-build ebpf-trace bind connect openat execve --duration "$seconds" "$@"
wait
