import Foundation
import Synchronization
import XCTest

/// The ebpf-trace example (the README's main job) as a user runs it: a real workload,
/// JSON Lines that parse, a summary, and a clean exit on each stop signal.
final class TraceCommandTests: XCTestCase {
    var tracer: URL { get throws { try builtExample("ebpf-trace") } }

    /// Starts the tracer and returns once it reports that its probes are attached.
    func start(_ arguments: [String]) throws -> ChildProcess {
        let run = try ChildProcess(try tracer.path, arguments)
        XCTAssertTrue(run.waitForOutput("tracing ", onStandardError: true, timeout: .seconds(120)), run.standardError)
        return run
    }

    /// Stops the tracer with `signal` and returns how it ended, its stdout lines and stderr.
    func finish(_ run: ChildProcess, signal number: Int32) -> (
        termination: ChildProcess.Termination, lines: [String], stderr: String
    ) {
        run.signal(number)
        let termination = run.wait()
        return (termination, run.standardOutput.split(separator: "\n").map(String.init), run.standardError)
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
        let (termination, lines, stderr) = finish(run, signal: SIGINT)
        XCTAssertEqual(termination, .exited(0), stderr)

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
            let (termination, lines, stderr) = finish(run, signal: number)
            XCTAssertEqual(termination, .exited(0), "signal \(number) handled, not fatal: \(stderr)")
            XCTAssertTrue(lines.first?.hasPrefix("TIME(s)") ?? false, "table header")
            XCTAssertEqual(
                lines.filter { $0.contains("syscalls:sys_enter_bind") && $0.contains("umyaddr=127.0.0.1:0") }.count, 1,
                lines.joined(separator: "\n"))
            let summary = try XCTUnwrap(lines.last { $0.hasPrefix("syscalls:sys_enter_bind") })
            XCTAssertEqual(summary.split(separator: " ").map(String.init), ["syscalls:sys_enter_bind", "1", "0"])
            // Probes live in the tracer's file descriptors, gone with it; the one state that
            // could outlive it, a legacy kprobe/uprobe event in tracefs, is not there either.
            XCTAssertEqual(ReliabilityTests.probeEventLines(), eventsBefore)
            XCTAssertFalse(FileManager.default.fileExists(atPath: "/proc/\(run.pid)/fd"), "the tracer is reaped")
        }
    }

    func testBadArgumentsFailWithAMessage() throws {
        try requireKernel()
        // ArgumentParser: 1 for an error the command throws, 64 (EX_USAGE) for bad options.
        for (arguments, expected, status) in [
            (["bind; }"], "invalid argument", 1), (["no_such_syscall"], "no syscall named", 1),
            (["bind", "--format", "xml"], "--format", 64),
        ] {
            let (termination, text) = try runToCompletion(try tracer.path, arguments)
            XCTAssertEqual(termination, .exited(Int32(status)), "\(arguments): \(text)")
            XCTAssertTrue(text.contains(expected), "\(arguments): \(text)")
        }
    }
}
