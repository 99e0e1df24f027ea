#!/usr/bin/env bash
# Checks that what a wrapper offers follows from how it was made, at compile time: a
# wrapper made with `EBPFWrapper()` has no call that needs a program of your own (its
# functions, tables, buffers), and one made with `EBPFWrapper(text:)` has them all, as well
# as the generated probes. Each refused call must fail to type-check with the compiler's
# "requires the types 'NoProgram' and 'CProgram' be equivalent"; the accepted ones must
# type-check.
#
#   scripts/check-wrapper-kinds.sh      (after `swift build`)
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
flags=(-swift-version 6 -I "$(swift build --show-bin-path)/Modules" -I Sources/CBCC -I Sources/CKernelABI
    $(pkg-config --cflags-only-I libbcc | sed 's/-I/-Xcc -I/g'))

typecheck() { swiftc -typecheck "${flags[@]}" "$1" >"$work/out" 2>&1; }

cat >"$work/accepted.swift" <<'SWIFT'
import EBPF
func generated<Program>(_ b: EBPFWrapper<Program>) throws {
    try b.attachKprobe(event: b.syscallFunctionName("bind")) { _ in }
    try b.attach(.syscall("bind")) { _ in }
    try b.attach([.syscall("bind"), .syscall("connect")]) { _ in }
    _ = try b.events(.syscall("bind"))
    _ = try b.aggregate(.syscall("read"), .histogram(of: "count"))
    _ = try b.traceFields()
    _ = (b.symbols, b.delivery, b.isClosed)
    b.close()
}
func native(_ c: EBPFWrapper<CProgram>) throws {
    try generated(EBPFWrapper())
    try generated(c)
    try c.attachKprobe(event: "f", fnName: "g")
    try c.attachTracepoint(tp: "a:b", fnName: "g")
    try c.attach(function: "g", to: .tracepoint("a:b"))
    _ = try c.table("t").openPerfBuffer { _ in }
    _ = try c.table("t").openRingBuffer { _ in }
    _ = try c.table("t").records()
    _ = try c.table("t", key: UInt32.self, value: UInt64.self)
    _ = try c.perCPUTable("t", key: UInt32.self, value: UInt64.self)
    _ = try c.loadFunction("g", type: .kprobe)
    _ = try (c.functionNames, c.tableNames)
}
SWIFT
if ! typecheck "$work/accepted.swift"; then
    cat "$work/out" >&2
    echo "check-wrapper-kinds: calls both kinds of wrapper offer do not type-check" >&2
    exit 1
fi

refused=(
    'try b.attachKprobe(event: "f", fnName: "g")'
    'try b.attachTracepoint(tp: "a:b", fnName: "g")'
    'try b.attach(function: "g", to: .tracepoint("a:b"))'
    '_ = try b.table("t")'
    '_ = try b.table("t", key: UInt32.self, value: UInt64.self)'
    '_ = try b.perCPUTable("t", key: UInt32.self, value: UInt64.self)'
    '_ = try b.loadFunction("g", type: .kprobe)'
    '_ = try b.functionNames'
    '_ = try b.tableNames'
)
for call in "${refused[@]}"; do
    printf 'import EBPF\nfunc f(_ b: EBPFWrapper<NoProgram>) throws {\n    %s\n}\n' "$call" >"$work/refused.swift"
    if typecheck "$work/refused.swift"; then
        echo "check-wrapper-kinds: a wrapper without a program accepts: $call" >&2
        exit 1
    fi
    if ! grep -q "requires the types 'NoProgram' and 'CProgram' be equivalent" "$work/out"; then
        cat "$work/out" >&2
        echo "check-wrapper-kinds: '$call' fails for another reason than the wrapper's kind" >&2
        exit 1
    fi
done
echo "check-wrapper-kinds: ${#refused[@]} program calls refused without a program at compile time; both kinds accept the rest"
