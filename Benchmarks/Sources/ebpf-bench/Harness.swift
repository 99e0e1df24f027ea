@_spi(Generator) import EBPF

#if canImport(Glibc)
import Glibc
#endif

/// Runs every consumer on the same program and the same load, one process each, and
/// collects what they measured.
struct Harness {
    let baselines: String
    let executable: String
    let generator: EBPFWrapper<NoProgram>

    init(baselines: String) throws {
        self.baselines = baselines
        var path = [CChar](repeating: 0, count: 4096)
        let length = readlink("/proc/self/exe", &path, path.count - 1)
        guard length > 0 else { throw BenchError("cannot find this executable") }
        executable = String(decoding: path[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        generator = try EBPFWrapper()
    }

    /// Starts the load, paused, and returns it with its pid.
    func startLoad(_ scenario: Scenario, perSecond: Int = 0) throws -> (Child, Int32) {
        let load = try Child([baselines + "/bin/load", scenario.syscall, String(scenario.count), String(perSecond)])
        guard let line = load.readLine(), let pid = Int32(line) else { throw BenchError("the load did not start") }
        return (load, pid)
    }

    /// The traced syscall's cost with no program attached.
    func unprobedCost(_ scenario: Scenario) throws -> Double {
        let (load, _) = try startLoad(scenario)
        load.write("g")
        let result = values(load.line(startingWith: "ns_per_call") ?? "")
        _ = load.wait()
        return result["ns_per_call"] ?? .nan
    }

    func measure(_ consumer: Consumer, _ scenario: Scenario, perSecond: Int = 0, latency: Bool = false) throws -> (
        Measurement, [String: Double]
    ) {
        let (load, pid) = try startLoad(scenario, perSecond: perSecond)
        let program = try generator.program(
            for: .syscall(scenario.syscall), filter: ProbeFilter(processID: pid),
            options: ProbeOptions(stringSize: scenario.stringSize))
        let programFile = "/tmp/ebpf-bench-\(getpid())-\(scenario.syscall).c"
        try write(program.text, to: programFile)
        defer { unlink(programFile) }
        guard let offset = program.recordFields.first(where: { $0.name == "f_" + scenario.sequenceField })?.offset
        else {
            throw BenchError("no field \(scenario.sequenceField) in the generated record")
        }

        let count = String(scenario.count)
        let libraryPages = PerfBufferOptions.automaticPageCount(recordSize: program.recordSize)
        let arguments: [String]
        switch consumer {
        case .c(let pages, let wakeup):
            arguments = [
                baselines + "/bin/c_consumer", programFile, scenario.tracepoint, String(offset),
                String(scenario.sequenceBase), count, String(pages == 0 ? libraryPages : pages), String(wakeup),
            ]
        case .python(let pages, let wakeup):
            arguments = [
                "/usr/bin/python3", baselines + "/bcc_consumer.py", programFile, scenario.tracepoint,
                "f_" + scenario.sequenceField, String(scenario.sequenceBase), count,
                String(pages == 0 ? libraryPages : pages), String(wakeup),
            ]
        case .swiftClosure, .swiftClosurePerf, .swiftBorrowed, .swiftByName, .swiftTyped, .swiftCount:
            let modes: [Consumer: String] = [
                .swiftClosure: "closure", .swiftClosurePerf: "closure-perf", .swiftBorrowed: "borrowed",
                .swiftByName: "by-name", .swiftTyped: "typed", .swiftCount: "count",
            ]
            let mode = latency ? (consumer == .swiftClosurePerf ? "latency-perf" : "latency") : modes[consumer]!
            arguments = [
                executable, "consume", mode, programFile, scenario.syscall, count, String(pid),
                String(scenario.stringSize), scenario.sequenceField, String(scenario.sequenceBase),
            ]
        }
        // The Swift consumers count their heap allocations (Benchmarks/baselines/alloc_count.c).
        let isSwift: Bool
        switch consumer {
        case .c, .python: isSwift = false
        default: isSwift = true
        }
        let child = try Child(
            arguments, environment: isSwift ? ["LD_PRELOAD=" + baselines + "/bin/alloc_count.so"] : [])
        guard let ready = child.line(startingWith: "READY") else {
            load.closeStdin()
            _ = load.wait()
            _ = child.wait()
            throw BenchError("\(consumer.label) did not start")
        }
        let go = KernelClock.now()
        load.write("g")
        let loadResult = values(load.line(startingWith: "ns_per_call") ?? "")
        _ = load.wait()
        child.closeStdin()
        let result = values(child.line(startingWith: "RESULT") ?? "")
        let (status, _, peakRSS) = child.wait()
        guard status == 0, let delivered = result["delivered"] else {
            throw BenchError("\(consumer.label) failed (status \(status))")
        }
        let last = result["last_ns"] ?? 0
        let seconds = max(1e-9, (last - Double(go)) / 1e9)
        let measurement = Measurement(
            consumer: consumer, delivered: delivered, lost: result["lost"] ?? .nan, gaps: result["gaps"] ?? .nan,
            eventsPerSecond: last > Double(go) ? delivered / seconds : 0,
            nanosecondsPerSyscall: loadResult["ns_per_call"] ?? .nan,
            cpuNanosecondsPerEvent: (result["cpu_ns"] ?? .nan) / max(1, delivered),
            peakRSS: peakRSS, startupMilliseconds: (values(ready)["startup_ns"] ?? .nan) / 1e6,
            allocationsPerEvent: result["allocations"].map { $0 / max(1, delivered) })
        return (measurement, result)
    }

    private func write(_ text: String, to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw BenchError("cannot write \(path)") }
        defer { close(fd) }
        var bytes = Array(text.utf8)
        guard Glibc.write(fd, &bytes, bytes.count) == bytes.count else { throw BenchError("short write to \(path)") }
    }
}
