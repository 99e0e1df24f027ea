#!/usr/bin/env bash
# Checks the DocC catalog against the code, from the debug build's EBPF module:
#   - docc builds it with warnings as errors (every ``link`` resolves, every parameter of a
#     documented member is documented);
#   - every public type is curated on the landing page (EBPF.md) and every public member of
#     EBPFWrapper in EBPFWrapper.md, so a new member cannot go unlisted.
# (DocumentationTests checks that the README's "API at a glance" table lists the same
# members as EBPFWrapper.md.)
#
#   scripts/check-docs.sh      (after `swift build`)
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
modules="$(swift build --show-bin-path)/Modules"
mkdir "$work/symbols"
swift symbolgraph-extract -module-name EBPF -I "$modules" -target "$(uname -m)-unknown-linux-gnu" \
    -I Sources/CBCC -I Sources/CKernelABI $(pkg-config --cflags-only-I libbcc | sed 's/-I/-Xcc -I/g') \
    -experimental-allowed-reexported-modules=EBPFKernel,EBPFProgram -minimum-access-level public -output-dir "$work/symbols"
if ! docc convert Sources/EBPF/EBPF.docc --additional-symbol-graph-dir "$work/symbols" \
    --output-path "$work/site" --warnings-as-errors >"$work/docc.log" 2>&1; then
    cat "$work/docc.log" >&2
    echo "check-docs: the DocC catalog does not build cleanly" >&2
    exit 1
fi
/usr/bin/python3 - "$work/symbols/EBPF.symbols.json" <<'PYTHON'
import json, re, sys
symbols = json.load(open(sys.argv[1]))["symbols"]
import collections
def curated(path):
    # A link's disambiguation (`-(AttachPoint,_)`, `-4x2b`) names one of an overload's
    # symbols, so each overload needs a link of its own: names are counted.
    return collections.Counter(
        re.findall(r"^- ``(?:EBPF/)?([^`]+?)(?:-\([^`]*\)|-[0-9a-z]{4,})?``", open(path).read(), re.M))
types = collections.Counter(s["pathComponents"][0] for s in symbols if len(s["pathComponents"]) == 1)
members = collections.Counter(s["pathComponents"][1] for s in symbols
                              if len(s["pathComponents"]) == 2 and s["pathComponents"][0] == "EBPFWrapper")
missing = sorted((types - curated("Sources/EBPF/EBPF.docc/EBPF.md")).elements())
missing += sorted("EBPFWrapper/" + m for m in (members - curated("Sources/EBPF/EBPF.docc/EBPFWrapper.md")).elements())
if missing:
    sys.exit("check-docs: not curated in the DocC catalog (an overload needs a link of its own): " + ", ".join(missing))
print(f"check-docs: {len(types)} public types and {sum(members.values())} EBPFWrapper members curated; docc clean")
PYTHON
