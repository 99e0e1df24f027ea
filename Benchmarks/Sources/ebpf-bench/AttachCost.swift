// What each way of attaching costs the traced syscall: getppid with nothing attached, then
// with the same counting program as its entry tracepoint, a raw tracepoint, and a kprobe and
// an fentry program on the kernel function it calls for the parent's pid (__task_pid_nr_ns,
// a real function in BTF on both kernels; the syscall's own __x64_sys_getppid is not in 6.1's
// BTF), measured in one process, in turns, ratios to the tracepoint. Run in the 6.1 guest (Benchmarks/attach-cost.sh), where all four attach; on a
// kernel that refuses one, its row says why.
import EBPF

#if canImport(Glibc)
import Glibc
#endif

enum AttachCost {
    /// One counting program per mechanism, the same body: a per-CPU counter.
    static let program = """
        BPF_PERCPU_ARRAY(calls, u64, 1);
        static __always_inline int count_call(void) {
            int zero = 0;
            u64 *value = calls.lookup(&zero);
            if (value) *value += 1;
            return 0;
        }
        TRACEPOINT_PROBE(syscalls, sys_enter_getppid) { return count_call(); }
        RAW_TRACEPOINT_PROBE(sys_enter) { return count_call(); }
        int on_kprobe(struct pt_regs *ctx) { return count_call(); }
        KFUNC_PROBE(__task_pid_nr_ns) { return count_call(); }
        """

    enum Mechanism: String, CaseIterable {
        case none = "nothing attached"
        case tracepoint = "tracepoint syscalls:sys_enter_getppid"
        case rawTracepoint = "raw tracepoint sys_enter (every syscall)"
        case kprobe = "kprobe __task_pid_nr_ns"
        case fentry = "fentry __task_pid_nr_ns"
    }

    /// Nanoseconds per getppid over `calls` calls.
    static func measure(calls: Int) -> Double {
        let start = KernelClock.now()
        for _ in 0..<calls { _ = getppid() }
        return Double(KernelClock.now() - start) / Double(calls)
    }

    /// Attaches `mechanism`'s function of `b`; the attachment, or why it cannot be.
    static func attach(_ mechanism: Mechanism, _ b: EBPFWrapper<CProgram>) -> Result<Attachment?, EBPFError> {
        Result { () throws(EBPFError) -> Attachment? in
            switch mechanism {
            case .none: return nil
            case .tracepoint:
                return try b.attachTracepoint(
                    tp: "syscalls:sys_enter_getppid", fnName: "tracepoint__syscalls__sys_enter_getppid")
            case .rawTracepoint:
                return try b.attach(function: "raw_tracepoint__sys_enter", to: .rawTracepoint("sys_enter"))
            case .kprobe: return try b.attachKprobe(event: "__task_pid_nr_ns", fnName: "on_kprobe")
            case .fentry: return try b.attach(function: "kfunc____task_pid_nr_ns", to: .fentry("__task_pid_nr_ns"))
            }
        }
    }

    static func run(_ arguments: [String]) throws {
        let calls = Int(option("--calls", in: arguments) ?? "") ?? 200_000
        let rounds = Int(option("--rounds", in: arguments) ?? "") ?? 5
        let b = try EBPFWrapper(text: program)
        defer { b.close() }
        var samples: [Mechanism: [Double]] = [:]
        var refused: [Mechanism: String] = [:]
        _ = measure(calls: calls / 10)  // warm-up
        // Rounds of every mechanism in turn, so a slow stretch of the machine falls on all.
        for _ in 0..<rounds {
            for mechanism in Mechanism.allCases where refused[mechanism] == nil {
                switch attach(mechanism, b) {
                case .failure(let error):
                    refused[mechanism] = "\(error.code): \(error.message)"
                case .success(let attachment):
                    samples[mechanism, default: []].append(measure(calls: calls))
                    attachment?.detach()
                }
            }
        }
        let median = samples.mapValues { $0.sorted()[$0.count / 2] }
        let base = median[.none] ?? 0
        let tracepoint = median[.tracepoint] ?? 0
        emit("### Attach cost: getppid with one counting program, \(calls) calls × \(rounds) rounds (median)")
        emit("Kernel \(KernelConfiguration.release). Added ns is the mechanism's cost over nothing attached.")
        emit("")
        emit("| attached | ns per call | added ns | ×tracepoint's added |")
        emit("|---|---:|---:|---:|")
        for mechanism in Mechanism.allCases {
            if let reason = refused[mechanism] {
                emit("| \(mechanism.rawValue) | – | – | refused: \(reason.prefix(160)) |")
                continue
            }
            guard let ns = median[mechanism] else { continue }
            let added = ns - base
            let ratio = mechanism == .none ? "–" : Report.ratio(added, tracepoint - base)
            emit(
                "| \(mechanism.rawValue) | \(Report.number(ns, 0)) | \(mechanism == .none ? "–" : Report.number(added, 0)) | \(ratio) |"
            )
        }
    }
}

/// The running kernel's release (`uname -r`).
enum KernelConfiguration {
    static var release: String {
        var names = utsname()
        uname(&names)
        return withUnsafeBytes(of: names.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }
}
