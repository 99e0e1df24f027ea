@_spi(Generator) import EBPF
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The Swift consumers, each run in its own process by the harness:
///
///   ebpf-bench consume closure|closure-perf|borrowed|by-name|typed|latency|latency-perf|count PROGRAM_FILE SYSCALL COUNT PID STRING_SIZE SEQ_FIELD SEQ_BASE
///
/// Same protocol as the C and Python baselines: READY after attaching, RESULT after stdin's
/// EOF and quiet buffers.
enum SwiftConsumer {
    /// The 64-byte record of the dup2 probe, as the generated C struct lays it out.
    struct Dup2Record: BitwiseCopyable {
        var timestamp: UInt64
        var pid: UInt32, tid: UInt32, uid: UInt32, gid: UInt32, cpu: UInt32, probe: UInt32
        var comm: InlineArray<16, UInt8>
        var cgroup: UInt64
        var oldfd: UInt32
        var newfd: UInt32
    }

    /// The 520-byte record of the access probe.
    struct AccessRecord: BitwiseCopyable {
        var timestamp: UInt64
        var pid: UInt32, tid: UInt32, uid: UInt32, gid: UInt32, cpu: UInt32, probe: UInt32
        var comm: InlineArray<16, UInt8>
        var cgroup: UInt64
        var filename: InlineArray<460, UInt8>
        var mode: Int32
    }

    /// Counts records and distinct sequence numbers: the same bookkeeping as the C
    /// consumer's, in plain memory (no exclusivity-checked class properties), so the
    /// comparison measures the library rather than this file.
    final class Tally: @unchecked Sendable {
        // @unchecked Sendable: `state` and `seen` are written only on the wrapper's polling
        // thread (the callbacks) and read by the main thread after close(), which joins that
        // thread; `progress` is atomic for the main thread's polling.
        struct State {
            var delivered = 0
            var duplicates = 0
            var lastNanoseconds: UInt64 = 0
        }

        let state = UnsafeMutablePointer<State>.allocate(capacity: 1)
        let seen: UnsafeMutableBufferPointer<UInt8>
        let base: Int
        let progress = Atomic<Int>(0)
        var latencies: [UInt64] = []

        init(count: Int, base: Int) {
            state.initialize(to: State())
            seen = .allocate(capacity: count)
            seen.initialize(repeating: 0)
            self.base = base
        }

        deinit {
            state.deallocate()
            seen.deallocate()
        }

        var delivered: Int { state.pointee.delivered }
        var duplicates: Int { state.pointee.duplicates }
        var lastNanoseconds: UInt64 { state.pointee.lastNanoseconds }

        func record(_ value: Int) {
            state.pointee.delivered += 1
            progress.store(state.pointee.delivered, ordering: .relaxed)
            state.pointee.lastNanoseconds = KernelClock.now()
            let sequence = value - base
            if sequence >= 0, sequence < seen.count {
                if seen[sequence] != 0 { state.pointee.duplicates += 1 }
                seen[sequence] = 1
            }
        }
    }

    static func run(_ arguments: [String]) throws {
        guard arguments.count == 8, let count = Int(arguments[3]), let pid = Int32(arguments[4]),
            let stringSize = Int(arguments[5]), let base = Int(arguments[7])
        else { throw BenchError("usage: consume MODE PROGRAM SYSCALL COUNT PID STRING_SIZE SEQ_FIELD SEQ_BASE") }
        let (mode, programFile, syscall, field) = (arguments[0], arguments[1], arguments[2], arguments[6])
        if mode == "count" { return try runCount(syscall: syscall, count: count, pid: pid) }
        let text = try String(decoding: readFile(programFile), as: UTF8.self)
        let tally = Tally(count: count, base: base)
        let lost = Atomic<UInt64>(0)

        let start = KernelClock.now()
        // The wrapper's close: a generated probe's wrapper and a C program's differ in type.
        let closeWrapper: () -> Void
        switch mode {
        case "closure", "latency", "closure-perf", "latency-perf", "borrowed":
            // As users run it: the program emitted from the generated C's description (the
            // other consumers load clang's compile of that C), through the default transport
            // (a ring buffer) or, for the `-perf` modes, perf buffers.
            let wrapper = try EBPFWrapper()
            closeWrapper = wrapper.close
            let measuresLatency = mode.hasPrefix("latency")
            let options = ProbeOptions(
                stringSize: stringSize, transport: mode.hasSuffix("-perf") ? .perfBuffer : .automatic)
            let onLost: @Sendable (UInt64) -> Void = { lost.add($0, ordering: .relaxed) }
            let probe: Probe
            if mode == "borrowed" {
                // Each event read in place, nothing copied out but the field.
                probe = try wrapper.attachBorrowing(
                    .syscall(syscall), filter: ProbeFilter(processID: pid), options: options, lost: onLost
                ) { event in
                    tally.record(event[field]?.intValue ?? -1)
                }
            } else {
                probe = try wrapper.attach(
                    .syscall(syscall), filter: ProbeFilter(processID: pid), options: options, lost: onLost
                ) { event in
                    if measuresLatency {
                        tally.latencies.append(KernelClock.now() - event.timestamp)
                    }
                    tally.record(event[field]?.intValue ?? -1)
                }
            }
            guard probe.program.text == text else {
                throw BenchError("the closure probe generated a different program than the other consumers run")
            }
        case "by-name":
            let wrapper = try EBPFWrapper(text: text)
            closeWrapper = wrapper.close
            let member = "f_" + field
            try wrapper.table(ProbeProgram.standaloneTableName).openPerfBuffer(lost: {
                lost.add($0, ordering: .relaxed)
            }) {
                record in
                tally.record(record[member]?.intValue ?? -1)
            }
            try wrapper.attachTracepoint(
                tp: "syscalls:sys_enter_\(syscall)", fnName: ProbeProgram.standaloneFunctionName)
        case "typed":
            let wrapper = try EBPFWrapper(text: text)
            closeWrapper = wrapper.close
            let onLost: @Sendable (UInt64) -> Void = { lost.add($0, ordering: .relaxed) }
            if syscall == "dup2" {
                try wrapper.table(ProbeProgram.standaloneTableName).openPerfBuffer(as: Dup2Record.self, lost: onLost) {
                    tally.record(Int($0.oldfd))
                }
            } else {
                try wrapper.table(ProbeProgram.standaloneTableName).openPerfBuffer(as: AccessRecord.self, lost: onLost)
                {
                    tally.record(Int($0.mode))
                }
            }
            try wrapper.attachTracepoint(
                tp: "syscalls:sys_enter_\(syscall)", fnName: ProbeProgram.standaloneFunctionName)
        default:
            throw BenchError("unknown mode \(mode)")
        }
        emit("READY startup_ns=\(KernelClock.now() - start)")

        let cpuStart = cpuNanoseconds()
        let allocationsAtStart = allocationCount()
        var byte: UInt8 = 0
        while read(0, &byte, 1) > 0 {}  // the harness closes stdin when the load is done
        var quietSince = KernelClock.now()
        var seenAtQuiet = tally.progress.load(ordering: .relaxed)
        while true {
            usleep(10_000)
            let now = tally.progress.load(ordering: .relaxed)
            if now >= count { break }
            if now != seenAtQuiet {
                seenAtQuiet = now
                quietSince = KernelClock.now()
            } else if KernelClock.now() - quietSince > 200_000_000 {
                break
            }
        }
        let allocations = allocationCount().map { $0 - (allocationsAtStart ?? 0) }
        // Measured before the teardown, as the C consumer measures: every event is in by now
        // (all of them, or 200 ms of quiet), and freeing a compiled module (libbcc's clang and
        // symbol tables) is start-up's counterpart, not delivery's.
        let cpu = cpuNanoseconds() - cpuStart
        closeWrapper()
        let gaps = count - tally.seen.reduce(0) { $0 + Int($1) }
        var result =
            "RESULT delivered=\(tally.delivered) lost=\(lost.load(ordering: .relaxed)) gaps=\(gaps) duplicates=\(tally.duplicates) last_ns=\(tally.lastNanoseconds) cpu_ns=\(cpu)"
        if let allocations { result += " allocations=\(allocations)" }
        if mode.hasPrefix("latency") {
            let sorted = tally.latencies.sorted()
            func percentile(_ p: Double) -> UInt64 {
                sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
            }
            result += " p50_ns=\(percentile(0.5)) p99_ns=\(percentile(0.99)) max_ns=\(sorted.last ?? 0)"
        }
        emit(result)
    }

    /// The in-kernel count: the same events counted by the library's generated aggregation,
    /// with nothing sent to user space; the count is read once the load is done. Delivered
    /// is the count, gaps the calls it missed.
    static func runCount(syscall: String, count: Int, pid: Int32) throws {
        let start = KernelClock.now()
        let wrapper = try EBPFWrapper()
        let counter = try wrapper.aggregate(.syscall(syscall), filter: ProbeFilter(processID: pid))
        emit("READY startup_ns=\(KernelClock.now() - start)")
        let cpuStart = cpuNanoseconds()
        let allocationsAtStart = allocationCount()
        var byte: UInt8 = 0
        while read(0, &byte, 1) > 0 {}  // the harness closes stdin when the load is done
        let counted = Int(try counter.snapshot().first?.count ?? 0)
        let read = KernelClock.now()
        let dropped = try counter.droppedCount()
        let cpu = cpuNanoseconds() - cpuStart
        let allocations = allocationCount().map { $0 - (allocationsAtStart ?? 0) }
        wrapper.close()
        var result =
            "RESULT delivered=\(counted) lost=\(dropped) gaps=\(count - counted) duplicates=0 last_ns=\(read) cpu_ns=\(cpu)"
        if let allocations { result += " allocations=\(allocations)" }
        emit(result)
    }

    /// Heap allocations so far, when Benchmarks/baselines/alloc_count.c is preloaded.
    static func allocationCount() -> UInt? {
        typealias Counter = @convention(c) () -> UInt
        guard let symbol = dlsym(nil, "ebpf_bench_allocations") else { return nil }
        return unsafeBitCast(symbol, to: Counter.self)()
    }

    static func readFile(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw BenchError("cannot open \(path)") }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            bytes += chunk[0..<count]
        }
        return bytes
    }
}
