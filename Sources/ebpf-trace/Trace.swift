import ArgumentParser
import EBPF
import CommandLineSupport

#if canImport(Glibc)
import Glibc
#endif

/// ebpf-trace: trace syscalls and tracepoints, one line per event with every decoded field.
@main
struct Trace: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ebpf-trace",
        abstract: "Trace syscalls and kernel tracepoints, printing every event with its decoded fields.",
        discussion: """
            EVENTS are attach points in bpftrace's probe syntax: syscall names (bind, openat), \
            tracepoints (sched:sched_process_exec), kernel functions (kprobe:__x64_sys_bind, \
            kretprobe:vfs_read, fentry:vfs_read), functions of programs by name \
            (uprobe:/srv/app:Server.handle(request:), uretprobe:c:malloc) and USDT probes \
            (usdt:BINARY:provider:name). `ebpf-trace profile` (or profile:hz:N) samples on-CPU \
            stacks instead, printed folded or drawn as a flame graph (--flame-graph). Filters run \
            in the kernel. Ctrl-C, SIGTERM or SIGHUP stop tracing, detach everything and print a \
            summary.
            """)

    @Argument(
        help: """
            Syscalls, category:name tracepoints, kprobe:FUNCTION, fentry:FUNCTION, uprobe:BINARY:FUNCTION, \
            usdt:BINARY:provider:name; or profile.
            """)
    var events: [String] = ["bind", "connect", "openat", "execve"]

    @Option(help: "Only this process id.")
    var pid: Int32?

    @Option(help: "Only this thread id.")
    var tid: Int32?

    @Option(help: "Only this user id.")
    var uid: UInt32?

    @Option(help: "Only threads with this name (comm).")
    var comm: String?

    @Option(
        help: """
            Only tasks in this cgroup (v2) or below it: a directory of the cgroup2 mount or a path \
            from its root (/system.slice/nginx.service).
            """)
    var cgroup: String?

    @Option(help: "Stop after this many seconds (default: until interrupted).")
    var duration: Double?

    @Option(help: "table (aligned, for people) or json (JSON Lines, for machines).")
    var format: String = "table"

    @Option(
        help: """
            The most milliseconds a line waits for earlier events of other CPUs (it is written \
            once every ring is drained past it, within about 10 ms), so lines come out in the \
            order their events happened; 0 prints each event as it arrives.
            """)
    var orderDelay: Int = TimeOrderedLines.defaultDelayMilliseconds

    @Option(help: "Bytes copied per string argument.")
    var stringSize: Int = 256

    @Option(help: "The most strings printed of an argument array (execve's argv and envp), as bcc's execsnoop.")
    var maxArgs: Int = 20

    @Option(help: "Bytes copied per string of an argument array.")
    var argSize: Int = 128

    @Flag(help: "Also print execve's environment (envp), which execsnoop leaves out.")
    var envp = false

    @Option(
        name: [.long, .customLong("usdt-strings")],
        help: """
            Argument numbers (from 1, comma-separated) to print as the strings they point to, \
            in each USDT or uprobe event that has them. (--usdt-strings is its former name.)
            """)
    var strings: String?

    @Option(help: "List the USDT probes of a binary (path or library name) or of a process (pid), and exit.")
    var listUSDT: String?

    @Option(
        help: """
            List the functions of a binary (path or library name) that a uprobe can name, Swift \
            names demangled, and exit: BINARY, or BINARY:PATTERN (a shell pattern or /regex/).
            """)
    var listFunctions: String?

    @Option(
        help: """
            Count events in the kernel instead of printing each: by comm, pid, tid, uid, cpu, \
            cgroup (shown as its path), a field of the event (fd, filename), ustack or kstack (the user or kernel stack), or \
            all (one total).
            """)
    var countBy: String?

    @Option(help: "Also keep the sum, min, max and average of this integer field (read's count); implies --count-by.")
    var sum: String?

    @Option(help: "Keep a log2 histogram of this integer field (read's count) instead of counts.")
    var histogram: String?

    @Option(help: "With --histogram: linear buckets MIN,MAX,STEP (bpftrace's lhist) instead of powers of two.")
    var linear: String?

    @Flag(
        help: """
            Keep a log2 histogram of each call's latency (entry to return, in ns) instead of counts: \
            of a syscall, kprobe, fentry or uprobe.
            """)
    var latency = false

    @Option(help: "With profile: samples per second on each CPU (bcc's profile -F).")
    var frequency: Int?

    @Option(help: "With profile: also draw the stacks as an SVG flame graph into this file.")
    var flameGraph: String?

    @Option(help: "With --count-by: print the counts every this many seconds, each interval afresh.")
    var interval: Double?

    @Option(help: "With --count-by: print only the N largest counts.")
    var top: Int?

    func validate() throws {
        guard OutputFormat(rawValue: format) != nil else {
            throw ValidationError("--format must be table or json")
        }
        if let duration, !(duration > 0 && duration.isFinite) {
            throw ValidationError("--duration must be a positive number of seconds")
        }
        if let interval, !(interval >= 0.001 && interval.isFinite) {
            throw ValidationError("--interval must be at least 0.001 seconds")
        }
        if let top, top <= 0 { throw ValidationError("--top must be positive") }
        if orderDelay < 0 || orderDelay > 60_000 {
            throw ValidationError("--order-delay must be between 0 and 60000 ms")
        }
        if countMode == nil, interval != nil || top != nil {
            throw ValidationError("--interval and --top go with --count-by, --sum, --histogram or --latency")
        }
        if [sum != nil, histogram != nil, latency].filter({ $0 }).count > 1 {
            throw ValidationError("choose one of --sum, --histogram and --latency")
        }
        if linear != nil, histogram == nil { throw ValidationError("--linear goes with --histogram FIELD") }
        if let linear, Self.linearBuckets(linear) == nil {
            throw ValidationError("--linear takes MIN,MAX,STEP, three integers (e.g. 0,1024,128); got \(linear)")
        }
        if let strings, Self.argumentNumbers(strings) == nil {
            throw ValidationError("--strings takes argument numbers such as 2 or 1,3; got \(strings)")
        }
        if let sampling = profileFrequency {
            guard sampling > 0 else { throw ValidationError("--frequency must be positive") }
            if countMode != nil || latency {
                throw ValidationError(
                    "profile counts stacks itself: leave out --count-by, --sum, --histogram and --latency")
            }
            if tid != nil || uid != nil || comm != nil || cgroup != nil || format != "table" || strings != nil {
                throw ValidationError(
                    "profile takes --frequency, --pid, --duration and --flame-graph; it prints folded stacks")
            }
            return
        }
        if frequency != nil || flameGraph != nil {
            throw ValidationError("--frequency and --flame-graph go with profile")
        }
        for event in events {
            do {
                let point = try AttachPoint(parsing: event, shorthands: true)
                if latency, point.returnPoint == nil {
                    throw ValidationError(
                        "--latency measures from an entry to its return (a syscall, kprobe, fentry or uprobe); \(event) has none"
                    )
                }
            } catch let error as EBPFError {
                throw ValidationError(error.message)
            }
        }
    }

    /// `1,3` as argument numbers.
    private static func argumentNumbers(_ text: String) -> Set<Int>? {
        let numbers = text.split(separator: ",", omittingEmptySubsequences: false).map { Int($0) }
        guard !numbers.isEmpty, numbers.allSatisfy({ ($0 ?? 0) > 0 }) else { return nil }
        return Set(numbers.compactMap { $0 })
    }

    /// `MIN,MAX,STEP` as linear buckets (the library checks their ranges).
    private static func linearBuckets(_ text: String) -> HistogramBuckets? {
        let numbers = text.split(separator: ",").compactMap { Int64($0) }
        guard numbers.count == 3, text.split(separator: ",").count == 3 else { return nil }
        return .linear(min: numbers[0], max: numbers[1], step: numbers[2])
    }

    /// The counting mode's settings, when --count-by, --sum, --histogram or --latency asks
    /// for it.
    private var countMode: CountMode? {
        let measure: AggregationMeasure
        if let sum {
            measure = .statistics(of: sum)
        } else if let histogram {
            measure = .histogram(of: histogram, buckets: linear.flatMap(Self.linearBuckets) ?? .log2)
        } else if latency {
            measure = .latency
        } else if countBy != nil {
            measure = .count
        } else {
            return nil
        }
        return CountMode(
            key: CountMode.key(named: countBy ?? "all"), measure: measure, interval: interval, top: top,
            format: OutputFormat(rawValue: format)!)
    }

    func run() throws {
        if let listUSDT {
            try Self.list(usdtProbesOf: listUSDT)
            return
        }
        if let listFunctions {
            try Self.list(functionsOf: listFunctions)
            return
        }
        if let sampling = profileFrequency {
            try ProfileMode(frequency: sampling, pid: pid, duration: duration, flameGraph: flameGraph).run()
            return
        }
        let stopSignals = StopSignals.block()
        let output = EventFormatter(format: OutputFormat(rawValue: format)!, hiddenFields: envp ? [] : ["envp"])
        let filter = ProbeFilter(processID: pid, threadID: tid, userID: uid, processName: comm, cgroup: cgroup)
        let wrapper = try EBPFWrapper()
        let writer = LineWriter()
        let window = TracingWindow(stopSignals: stopSignals, duration: duration)
        if let countMode {
            try countMode.run(
                events.map { ($0, try point(for: $0)) }, filter: filter,
                options: AggregationOptions(stringSize: min(stringSize, 256), arguments: arguments),
                wrapper: wrapper, writer: writer, window: window)
            return
        }
        let counts = Locked<[String: Int]>([:])
        let ordered = TimeOrderedLines(delayMilliseconds: orderDelay)
        // A tracer should not trace itself (it opens tracefs files while attaching).
        let ownPID = getpid()
        // After each pass over every ring, what can no longer be preceded is written.
        if orderDelay > 0 {
            wrapper.delivery.onDrainPass { deliveredThrough in
                ordered.release(upTo: deliveredThrough).forEach(writer.write)
            }
        }
        let probes: [Probe]
        do {
            // One program for every event: one compile, however many events.
            probes = try wrapper.attach(
                events.map(point(for:)), filter: filter,
                options: ProbeOptions(
                    stringSize: stringSize, stringArrayCount: maxArgs, stringArrayElementSize: argSize,
                    arguments: arguments)
            ) { event in
                guard event.processID != ownPID else { return }
                counts.withLock { $0[event.eventName, default: 0] += 1 }
                if let late = ordered.add(output.line(for: event), timestamp: event.timestamp) { writer.write(late) }
            }
        } catch {
            wrapper.close()
            throw error
        }
        window.begin()
        if let header = output.header { writer.write(header) }
        writer.flush()
        Example.status(
            "tracing \(probes.map(\.eventName).joined(separator: ", "))\(duration.map { " for \($0) s" } ?? "; Ctrl-C to stop")"
        )

        // Until a stop signal or the end of the duration, lines reach stdout in the order
        // their events happened, a drain interval (at most the order delay) plus a flush
        // interval after them: one write per interval, however many events came.
        while !window.stopped(waiting: LineWriter.flushInterval) {
            ordered.releaseDue().forEach(writer.write)
            writer.flush()
        }
        // close() delivers what the buffers still hold before it returns.
        wrapper.close()
        ordered.releaseAll().forEach(writer.write)
        writer.flush()

        let seen = counts.withLock { $0 }
        var summary = ["", "EVENT                            COUNT   LOST"]
        for probe in probes {
            let name = probe.eventName
            summary.append(name.padded(32) + " " + String(seen[name] ?? 0).padded(7) + " " + String(probe.lostCount))
        }
        let late = ordered.lateCount
        if late > 0 { summary.append("\(late) events came too late to be printed in time order") }
        if output.format == .table {
            summary.forEach { writer.write($0) }
            writer.flush()
        } else {
            summary.forEach(Example.status)
        }
    }

    /// `event` read as the library reads attach points; a USDT probe or uprobe limited to
    /// `--pid`, as the filter limits the rest.
    private func point(for event: String) throws -> AttachPoint {
        let point = try AttachPoint(parsing: event, shorthands: true)
        return pid.map(point.inProcess) ?? point
    }

    /// The sampling frequency when the events ask for a profile: `profile` (with
    /// `--frequency`, 99 Hz by default) or `profile:hz:N`.
    private var profileFrequency: Int? {
        guard events.count == 1, let event = events.first else { return nil }
        if event == "profile" { return frequency ?? 99 }
        guard event.hasPrefix("profile:hz:"), let hertz = Int(event.dropFirst("profile:hz:".count)) else { return nil }
        return frequency ?? hertz
    }

    /// The arguments `--strings` reads as strings.
    private var arguments: ArgumentReading {
        ArgumentReading(strings: strings.flatMap(Self.argumentNumbers) ?? [])
    }
}

extension Trace {
    /// Prints one line per function of `target` (`BINARY` or `BINARY:PATTERN`), as
    /// `bpftrace -l 'uprobe:BINARY:PATTERN'` does: the uprobe that names it, and its symbol
    /// when that differs.
    static func list(functionsOf target: String) throws {
        let (binary, pattern) =
            AttachPoint.splitUserFunction(Substring(target)).map { (String($0.binary), String($0.function)) }
            ?? (target, "*")
        for function in try UserFunction.all(in: binary, matching: pattern) {
            let symbol = function.symbol == function.name ? "" : "  \(function.symbol)"
            print("\(AttachPoint.uprobe(function.name, in: binary))\(symbol)".terminalSafe)
        }
    }

    /// Prints one line per USDT probe of `target` (a pid, or a binary): bpftrace's
    /// `usdt:BINARY:provider:name` and its arguments as the notes give them.
    static func list(usdtProbesOf target: String) throws {
        let probes =
            if let pid = Int32(target) {
                try USDTProbe.all(pid: pid)
            } else {
                try USDTProbe.all(in: target)
            }
        for probe in probes {
            let semaphore = probe.hasSemaphore ? "  (semaphore)" : ""
            let arguments = probe.arguments.map(\.description).joined(separator: " ")
            print("\(AttachPoint.usdt(probe.description, in: probe.binaryPath))  \(arguments)\(semaphore)".terminalSafe)
        }
    }
}

/// Writes whole lines to stdout from the polling thread. A line that comes after a quiet
/// ``flushInterval`` is written at once; lines that follow it within the interval are buffered,
/// flushed when 64 KiB are pending and by the main thread every ``flushInterval``: a lone
/// event shows at once, a flood of events costs one write per interval.
final class LineWriter: Sendable {
    /// The longest a buffered line waits for its write.
    static let flushInterval = 0.02

    private let state = Locked<(pending: [UInt8], lastWrite: ContinuousClock.Instant?)>(([], nil))

    func write(_ line: String) {
        state.withLock { state in
            state.pending.append(contentsOf: line.utf8)
            state.pending.append(UInt8(ascii: "\n"))
            let now = ContinuousClock.now
            let quiet = state.lastWrite.map { $0.duration(to: now) > .seconds(Self.flushInterval) } ?? true
            if quiet || state.pending.count > 64 * 1024 {
                Self.writeOut(&state.pending, at: now, into: &state.lastWrite)
            }
        }
    }

    func flush() {
        state.withLock { state in
            guard !state.pending.isEmpty else { return }
            Self.writeOut(&state.pending, at: .now, into: &state.lastWrite)
        }
    }

    private static func writeOut(
        _ buffer: inout [UInt8], at now: ContinuousClock.Instant, into lastWrite: inout ContinuousClock.Instant?
    ) {
        var offset = 0
        while offset < buffer.count {
            let written = buffer.withUnsafeBytes {
                Glibc.write(STDOUT_FILENO, $0.baseAddress! + offset, $0.count - offset)
            }
            if written <= 0 { break }
            offset += written
        }
        buffer.removeAll(keepingCapacity: true)
        lastWrite = now
    }
}

/// A value behind a pthread mutex (which ThreadSanitizer understands, as it does not
/// `Synchronization.Mutex`'s futexes).
final class Locked<Value>: @unchecked Sendable {
    // @unchecked Sendable: `value` is reached only under `mutex`.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private var value: Value

    init(_ value: Value) {
        self.value = value
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
