#!/usr/bin/env bash
# Prints the commit the working tree is at, for the figure files: the short hash, with
# "+changes" when tracked files other than Figures/ differ from it (the figure files
# themselves are rewritten by every run, so they do not count).
set -euo pipefail
cd "$(dirname "$0")/.."
commit=$(git rev-parse --short HEAD 2>/dev/null) || { echo "unknown"; exit 0; }
if git diff --quiet HEAD -- . ':(exclude)Figures'; then echo "$commit"; else echo "$commit+changes"; fi
