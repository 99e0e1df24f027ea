import Foundation
import Synchronization
import XCTest

/// The ebpf-trace example (the README's main job) as a user runs it: a real workload,
/// JSON Lines that parse, a summary, and a clean exit on each stop signal.
final class TraceCommandTests: XCTestCase {
    var tracer: URL { get throws { try builtExample("ebpf-trace") } }

    // @unchecked Sendable: the Process and Pipe are used from the test's thread only; the
    // stderr text, written by the pipe's handler, is behind a lock.
    final class Run: @unchecked Sendable {
        let process: Process
        let stdout = Pipe()
        let stderrText = Locked<String>("")
        init(process: Process) { self.process = process }
    }

    /// Starts the tracer and returns once it reports that its probes are attached.
    func start(_ arguments: [String]) throws -> Run {
        let run = Run(process: Process())
        run.process.executableURL = try tracer
        run.process.arguments = arguments
        run.process.standardOutput = run.stdout
        let stderr = Pipe()
        run.process.standardError = stderr
        stderr.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            run.stderrText.withLock { $0 += String(decoding: data, as: UTF8.self) }
        }
        try run.process.run()
        XCTAssertTrue(
            waitUntil(timeout: .seconds(30)) { run.stderrText.withLock { $0.contains("tracing ") } },
            run.stderrText.withLock { $0 })
        return run
    }

    func finish(_ run: Run, signal number: Int32) -> (lines: [String], stderr: String) {
        kill(run.process.processIdentifier, number)
        let output = run.stdout.fileHandleForReading.readDataToEndOfFile()
        run.process.waitUntilExit()
        usleep(50_000)
        // The handler holds `run`, which holds the process and so this pipe: break the cycle.
        (run.process.standardError as? Pipe)?.fileHandleForReading.readabilityHandler = nil
        let lines = String(decoding: output, as: UTF8.self).split(separator: "\n").map(String.init)
        return (lines, run.stderrText.withLock { $0 })
    }

    func testJSONLinesOfARealWorkloadParse() throws {
        try requireKernel()
        let run = try start(["bind", "openat", "--pid", String(getpid()), "--format", "json"])
        let path = "/tmp/ebpf-trace-test-\(UUID().uuidString)"
        close(open(path, O_CREAT | O_WRONLY, 0o600))
        let fd = bindLoopbackSocket()
        defer { close(fd) }
        close(open(path, O_RDONLY))
        unlink(path)
        usleep(200_000)
        let (lines, stderr) = finish(run, signal: SIGINT)
        XCTAssertEqual(run.process.terminationStatus, 0, stderr)

        let objects = try lines.map { line in
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], line)
        }
        XCTAssertFalse(objects.isEmpty)
        for object in objects {
            XCTAssertEqual(object["pid"] as? Int, Int(getpid()), "--pid filters in the kernel")
        }
        let binds = objects.filter { $0["event"] as? String == "syscalls:sys_enter_bind" }
        XCTAssertEqual(binds.count, 1)
        let bindFields = try XCTUnwrap(binds.first?["fields"] as? [String: Any])
        XCTAssertEqual(bindFields["fd"] as? Int, Int(fd))
        XCTAssertEqual(bindFields["umyaddr"] as? String, "127.0.0.1:0")
        let opens = objects.filter { ($0["fields"] as? [String: Any])?["filename"] as? String == path }
        XCTAssertEqual(opens.count, 2, "created, then opened again")
        XCTAssertTrue(stderr.contains("syscalls:sys_enter_bind"), stderr)
        XCTAssertTrue(stderr.contains("COUNT"), "a summary on exit: \(stderr)")
    }

    /// SIGINT, SIGTERM and SIGHUP each stop the tracer cleanly: exit status 0, the events
    /// seen, a summary, and nothing left behind.
    func testEachStopSignalDetachesAndSummarizes() throws {
        try requireKernel()
        for number in [SIGINT, SIGTERM, SIGHUP] {
            let eventsBefore = ReliabilityTests.probeEventLines()
            let run = try start(["bind", "--pid", String(getpid())])
            close(bindLoopbackSocket())
            usleep(100_000)
            let (lines, stderr) = finish(run, signal: number)
            XCTAssertEqual(run.process.terminationReason, .exit, "signal \(number) handled, not fatal")
            XCTAssertEqual(run.process.terminationStatus, 0, stderr)
            XCTAssertTrue(lines.first?.hasPrefix("TIME(s)") ?? false, "table header")
            XCTAssertEqual(lines.filter { $0.contains("syscalls:sys_enter_bind") && $0.contains("umyaddr=127.0.0.1:0") }.count, 1, lines.joined(separator: "\n"))
            let summary = try XCTUnwrap(lines.last { $0.hasPrefix("syscalls:sys_enter_bind") })
            XCTAssertEqual(summary.split(separator: " ").map(String.init), ["syscalls:sys_enter_bind", "1", "0"])
            // Probes live in the tracer's file descriptors, gone with it; the one state that
            // could outlive it, a legacy kprobe/uprobe event in tracefs, is not there either.
            XCTAssertEqual(ReliabilityTests.probeEventLines(), eventsBefore)
            XCTAssertFalse(FileManager.default.fileExists(atPath: "/proc/\(run.process.processIdentifier)/fd"), "the tracer is gone")
        }
    }

    func testBadArgumentsFailWithAMessage() throws {
        try requireKernel()
        for (arguments, expected) in [(["bind; }"], "invalid argument"), (["no_such_syscall"], "no syscall named"), (["bind", "--format", "xml"], "--format")] {
            let (status, text) = try runToCompletion(try tracer.path, arguments)
            XCTAssertNotEqual(status, 0, arguments.joined(separator: " "))
            XCTAssertTrue(text.contains(expected), "\(arguments): \(text)")
        }
    }
}
