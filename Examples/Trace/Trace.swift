import ArgumentParser
import EBPF
import ExampleSupport
import Foundation

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
            EVENTS are syscall names (bind, openat), tracepoints (sched:sched_process_exec) or \
            kernel functions (kprobe:__x64_sys_bind). Filters run in the kernel. Ctrl-C, SIGTERM \
            or SIGHUP stop tracing, detach everything and print a summary.
            """)

    @Argument(help: "Syscalls, category:name tracepoints, or kprobe:function.")
    var events: [String] = ["bind", "connect", "openat", "execve"]

    @Option(help: "Only this process id.")
    var pid: Int32?

    @Option(help: "Only this thread id.")
    var tid: Int32?

    @Option(help: "Only this user id.")
    var uid: UInt32?

    @Option(help: "Only threads with this name (comm).")
    var comm: String?

    @Option(help: "Stop after this many seconds (default: until interrupted).")
    var duration: Double?

    @Option(help: "table (aligned, for people) or json (JSON Lines, for machines).")
    var format: String = "table"

    @Option(help: "Bytes copied per string argument.")
    var stringSize: Int = 256

    func validate() throws {
        guard OutputFormat(rawValue: format) != nil else {
            throw ValidationError("--format must be table or json")
        }
        if let duration, duration <= 0 { throw ValidationError("--duration must be positive") }
    }

    func run() throws {
        let stopSignals = StopSignals.block()
        let output = EventFormatter(format: OutputFormat(rawValue: format)!)
        let filter = ProbeFilter(processID: pid, threadID: tid, userID: uid, processName: comm)
        let wrapper = try EBPFWrapper()
        let counts = Locked<[String: Int]>([:])
        let writer = LineWriter()
        // A tracer should not trace itself (it opens tracefs files while attaching).
        let ownPID = getpid()
        let probes: [Probe]
        do {
            // One program for every event: one compile, however many events.
            probes = try wrapper.attachAll(
                events.map(target(for:)), filter: filter, options: ProbeOptions(stringSize: stringSize)
            ) { event in
                guard event.processID != ownPID else { return }
                counts.withLock { $0[event.eventName, default: 0] += 1 }
                writer.write(output.line(for: event))
            }
        } catch {
            wrapper.close()
            throw error
        }
        if let header = output.header { writer.write(header) }
        writer.flush()
        Example.status(
            "tracing \(probes.map(\.eventName).joined(separator: ", "))\(duration.map { " for \($0) s" } ?? "; Ctrl-C to stop")"
        )

        // Until a stop signal or the end of the duration, lines reach stdout at most a flush
        // interval after their event: one write per interval, however many events came.
        let end = duration.map { ContinuousClock.now + .nanoseconds(Int64($0 * 1e9)) }
        while true {
            let left = end.map { ContinuousClock.now.duration(to: $0) / .seconds(1) } ?? .infinity
            if stopSignals.wait(seconds: max(0, min(LineWriter.flushInterval, left))) != nil { break }
            writer.flush()
            if let end, ContinuousClock.now >= end { break }
        }
        // close() delivers what the buffers still hold before it returns.
        wrapper.close()
        writer.flush()

        let seen = counts.withLock { $0 }
        var summary = ["", "EVENT                            COUNT   LOST"]
        for probe in probes {
            let name = probe.eventName
            summary.append(name.padded(32) + " " + String(seen[name] ?? 0).padded(7) + " " + String(probe.lostCount))
        }
        if output.format == .table {
            summary.forEach { writer.write($0) }
            writer.flush()
        } else {
            summary.forEach(Example.status)
        }
    }

    private func target(for name: String) -> ProbeTarget {
        if name.hasPrefix("kprobe:") { return .kprobe(String(name.dropFirst("kprobe:".count))) }
        if name.contains(":") { return .tracepoint(name) }
        return .syscall(name)
    }
}

/// Writes whole lines to stdout from the polling thread, buffered: flushed when 64 KiB are
/// pending and by the main thread every ``flushInterval``.
final class LineWriter: Sendable {
    /// The longest a line waits for its write: short enough to look live, long enough that a
    /// flood of events costs one write per interval.
    static let flushInterval = 0.02

    private let pending = Locked<[UInt8]>([])

    func write(_ line: String) {
        let full = pending.withLock { buffer -> Bool in
            buffer.append(contentsOf: line.utf8)
            buffer.append(UInt8(ascii: "\n"))
            return buffer.count > 64 * 1024
        }
        if full { flush() }
    }

    func flush() {
        pending.withLock { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = buffer.withUnsafeBytes {
                    Glibc.write(STDOUT_FILENO, $0.baseAddress! + offset, $0.count - offset)
                }
                if written <= 0 { break }
                offset += written
            }
            buffer.removeAll(keepingCapacity: true)
        }
    }
}

/// A value behind an NSLock (a pthread mutex, which ThreadSanitizer understands).
final class Locked<Value>: @unchecked Sendable {
    // @unchecked Sendable: `value` is reached only under `lock`.
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
