#!/usr/bin/env bash
# Counts what `import EBPF` makes public, from the symbol graph of the debug build (the
# library's own targets, re-exported ones included): types, members by kind, and
# EBPFWrapper's members. Compiler-synthesized operators (Equatable's ==, RawRepresentable's
# and Comparable's) are counted apart, since nobody declares them.
#
#   scripts/count-public-api.sh [PACKAGE_DIRECTORY]     (after `swift build`)
set -euo pipefail
cd "${1:-$(dirname "$0")/..}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
swift symbolgraph-extract -module-name EBPF -I "$(swift build --show-bin-path)/Modules" \
    -target "$(uname -m)-unknown-linux-gnu" -I Sources/CBCC -I Sources/CKernelABI \
    $(pkg-config --cflags-only-I libbcc | sed 's/-I/-Xcc -I/g') \
    -experimental-allowed-reexported-modules=EBPFKernel,EBPFProgram \
    -minimum-access-level public -output-dir "$work" >/dev/null
/usr/bin/python3 - "$work" <<'PYTHON'
import collections, glob, json, sys
symbols = []
for path in glob.glob(sys.argv[1] + "/*.symbols.json"):
    symbols += json.load(open(path))["symbols"]
type_kinds = {"swift.struct", "swift.class", "swift.enum", "swift.protocol", "swift.typealias"}
types = [s for s in symbols if s["kind"]["identifier"] in type_kinds]
operators = [s for s in symbols if s["kind"]["identifier"] == "swift.func.op"]
members = [s for s in symbols if s not in types and s not in operators]
wrapper = [s for s in symbols if s["pathComponents"][0] == "EBPFWrapper" and len(s["pathComponents"]) == 2]
print(f"public types: {len(types)} ({sum(len(s['pathComponents']) == 1 for s in types)} top-level)")
print(f"public members: {len(members)}, plus {len(operators)} operators")
for kind, count in collections.Counter(s["kind"]["identifier"] for s in members).most_common():
    print(f"  {kind.removeprefix('swift.')}: {count}")
print(f"EBPFWrapper members: {len(wrapper)}")
PYTHON
