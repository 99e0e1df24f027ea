#!/usr/bin/env bash
# Checks the README's layer map (between the `layer-map` markers) against the package:
#   - each target's declared dependencies in Package.swift are exactly those the map lists,
#     and only on targets listed above it (so the layers have no cycle);
#   - each target's Swift files import only what the map lists, plus the platform's own
#     modules (Glibc, Dispatch, Synchronization, FoundationEssentials);
#   - no library target but EBPFKernel makes a descriptor-level system call or opens a
#     library (close(fd…), Glibc.open/close/read/write, ioctl, mmap, syscall, dlopen, epoll…);
#   - no descriptor's number leaves EBPFKernel: the compiler keeps FileDescriptor's and
#     BorrowedDescriptor's numbers internal to it, and the one package call that hands a
#     number out (withNumberForUser, for a public API such as bcc's fn.fd) is called only
#     from LentDescriptor.swift.
# Runs without building anything.
#
#   scripts/check-layers.sh
set -euo pipefail
cd "$(dirname "$0")/.."
swift package dump-package >"${TMPDIR:-/tmp}/check-layers.$$.json"
trap 'rm -f "${TMPDIR:-/tmp}/check-layers.$$.json"' EXIT
/usr/bin/python3 - "${TMPDIR:-/tmp}/check-layers.$$.json" <<'PYTHON'
import json, os, re, sys

readme = open("README.md").read()
block = re.search(r"<!-- layer-map -->\n```text\n(.*?)```\n<!-- /layer-map -->", readme, re.S)
if not block:
    sys.exit("check-layers: README.md has no layer map between <!-- layer-map --> markers")
layers = []  # (target, allowed imports), top of the stack last
for line in block.group(1).splitlines():
    if not line.strip() or line.startswith("target"):
        continue
    name, _, rest = line.partition(" ")
    layers.append((name, rest.replace(",", " ").split()))
allowed = dict(layers)
order = [name for name, _ in layers]

package = json.load(open(sys.argv[1]))
platform = {"Glibc", "Dispatch", "Synchronization", "FoundationEssentials", "XCTest"}
library_targets = {"EBPFKernel", "EBPFProgram", "EBPF"}
syscall = re.compile(
    r"\bGlibc\.(open|close|read|write)\(|(?<![\w.])(?<!case )(?<!func )"
    r"(ioctl|mmap|munmap|syscall|dlopen|dlsym|epoll_\w+|fcntl|pipe|dup2?|bpf)\(|\bclose\(fd")
problems = []
seen = set()
for target in package["targets"]:
    name = target["name"]
    if target["type"] in ("system", "test"):
        continue
    seen.add(name)
    if name not in allowed:
        problems.append(f"{name} is a target of Package.swift but not in the README's layer map")
        continue
    declared = set()
    for dependency in target.get("dependencies", []):
        kind, value = next(iter(dependency.items()))
        declared.add(value[0])
    if declared != set(allowed[name]):
        problems.append(f"{name}: Package.swift declares {sorted(declared)}, the map {sorted(allowed[name])}")
    for dependency in declared & set(order):
        if order.index(dependency) >= order.index(name):
            problems.append(f"{name} depends on {dependency}, which the map puts above it")
    path = target.get("path") or f"Sources/{name}"
    for directory, _, files in os.walk(path):
        for file in files:
            if not file.endswith(".swift"):
                continue
            full = os.path.join(directory, file)
            for number, line in enumerate(open(full), 1):
                code = line.split("//", 1)[0]
                imported = re.match(
                    r"\s*(?:@[\w(),: ]+\s+)*(?:internal |public |package )?import (?:struct |enum |class )?(\w+)", code)
                if imported and imported.group(1) not in set(allowed[name]) | platform:
                    problems.append(f"{full}:{number}: {name} imports {imported.group(1)}, which the map does not allow")
                if name in library_targets and name != "EBPFKernel" and syscall.search(code):
                    problems.append(f"{full}:{number}: a system call outside EBPFKernel: {line.strip()}")
                if (name != "EBPFKernel" and os.path.relpath(full) != "Sources/EBPF/Facade/LentDescriptor.swift"
                        and re.search(r"\bwithNumberForUser\b", code)):
                    problems.append(f"{full}:{number}: a descriptor's number outside EBPFKernel: {line.strip()}")
for name in set(order) - seen:
    problems.append(f"the layer map lists {name}, which Package.swift does not have")
if problems:
    sys.exit("check-layers:\n  " + "\n  ".join(problems))
print(f"check-layers: {len(seen)} targets match the README's layer map")
PYTHON
