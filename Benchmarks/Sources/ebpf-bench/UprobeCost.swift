// What a uprobe costs each call of a Swift function, the library's against bpftrace's on
// the same function in the same run: `UprobeCost.work(_:)` of this binary called in a loop
// with nothing attached, then with a count at its entry (uprobe), a count at its return
// (uretprobe), and a latency histogram (both), each made in turn by the library (by the
// function's Swift name) and by bpftrace (by its mangled symbol). Both count in the kernel;
// the added nanoseconds per call are the probe's cost.
import EBPF

#if canImport(Glibc)
import Glibc
#endif

enum UprobeCost {
    /// The probed function: a little arithmetic, never inlined.
    @inline(never) static func work(_ value: Int) -> Int { value &* 31 &+ 7 }

    nonisolated(unsafe) static var sink = 0

    enum Probe: String, CaseIterable {
        case uprobe = "uprobe (count)"
        case uretprobe = "uretprobe (count)"
        case latency = "uprobe + uretprobe (latency histogram)"
    }

    /// Nanoseconds per call over `calls` calls.
    static func measure(calls: Int) -> Double {
        var total = 0
        let start = KernelClock.now()
        for index in 0..<calls { total &+= work(index) }
        let elapsed = KernelClock.now() - start
        sink &+= total
        return Double(elapsed) / Double(calls)
    }

    static func binary() -> String {
        var buffer = [CChar](repeating: 0, count: 4097)
        let count = readlink("/proc/self/exe", &buffer, 4096)
        return String(decoding: buffer[..<max(0, count)].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The library's probe of `kind` on `work(_:)`, by its Swift name.
    static func attachLibrary(_ kind: Probe, _ b: EBPFWrapper<NoProgram>, binary: String) throws -> Aggregation {
        let name = "UprobeCost.work(_:)"
        switch kind {
        case .uprobe: return try b.aggregate(.uprobe(name, in: binary))
        case .uretprobe: return try b.aggregate(.uretprobe(name, in: binary))
        case .latency: return try b.aggregate(.uprobe(name, in: binary), .latency)
        }
    }

    /// bpftrace's program for `kind` on `symbol`.
    static func bpftraceProgram(_ kind: Probe, binary: String, symbol: String) -> String {
        // Quoted: bpftrace would read a `$s…` symbol as one of its variables.
        let point = "\(binary):\"\(symbol)\""
        switch kind {
        case .uprobe: return "uprobe:\(point) { @calls = count(); }"
        case .uretprobe: return "uretprobe:\(point) { @calls = count(); }"
        case .latency:
            return
                "uprobe:\(point) { @start[tid] = nsecs; } uretprobe:\(point) /@start[tid]/ { @ns = hist(nsecs - @start[tid]); delete(@start[tid]); }"
        }
    }

    /// bpftrace running `program`, once its probes are attached: its `BEGIN` runs after
    /// them (its "Attaching" line comes before, on stderr).
    static func startBpftrace(_ program: String) throws -> Child {
        let child = try Child(
            ["/usr/bin/bpftrace", "-B", "line", "-e", "BEGIN { printf(\"ready\\n\"); } " + program], quiet: true)
        guard child.line(startingWith: "ready") != nil else {
            throw BenchError("bpftrace did not attach: \(program)")
        }
        return child
    }

    static func run(_ arguments: [String]) throws {
        let calls = Int(option("--calls", in: arguments) ?? "") ?? 1_000_000
        let rounds = Int(option("--rounds", in: arguments) ?? "") ?? 5
        let binary = binary()
        guard let symbol = try UserFunction.all(in: binary, matching: "UprobeCost.work(_:)").first?.symbol else {
            throw BenchError("UprobeCost.work(_:) is not in \(binary)")
        }
        let b = try EBPFWrapper()
        defer { b.close() }
        _ = measure(calls: calls / 10)  // warm-up
        var none: [Double] = []
        var library: [Probe: [Double]] = [:]
        var bpftrace: [Probe: [Double]] = [:]
        // Rounds of every probe in turn, so a slow stretch of the machine falls on all.
        for _ in 0..<rounds {
            none.append(measure(calls: calls))
            for kind in Probe.allCases {
                let aggregation = try attachLibrary(kind, b, binary: binary)
                library[kind, default: []].append(measure(calls: calls))
                aggregation.close()
                let child = try startBpftrace(bpftraceProgram(kind, binary: binary, symbol: symbol))
                bpftrace[kind, default: []].append(measure(calls: calls))
                kill(child.pid, SIGINT)
                _ = child.wait()
            }
        }
        func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
        let base = median(none)
        emit("### Uprobe cost: a Swift function, \(calls) calls × \(rounds) rounds (median)")
        emit(
            "Kernel \(KernelConfiguration.release). `UprobeCost.work(_:)` of ebpf-bench (release); the library probes it by its Swift name, bpftrace by its symbol. Added ns is over nothing attached (\(Report.number(base, 1)) ns per call)."
        )
        emit("")
        emit("| probe | EBPF added ns | bpftrace added ns | EBPF ÷ bpftrace |")
        emit("|---|---:|---:|---:|")
        for kind in Probe.allCases {
            let ours = median(library[kind] ?? [base]) - base
            let theirs = median(bpftrace[kind] ?? [base]) - base
            emit(
                "| \(kind.rawValue) | \(Report.number(ours, 0)) | \(Report.number(theirs, 0)) | \(Report.ratio(ours, theirs)) |"
            )
        }
    }
}
