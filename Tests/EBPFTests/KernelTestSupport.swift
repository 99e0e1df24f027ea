@_spi(Generator) @testable import EBPF
import EBPFKernel
import Foundation
import Synchronization
import XCTest

/// Decides once per process whether this machine can run kernel tests (root, BPF, tracefs),
/// and turns "no" into a skip — or, when EBPF_REQUIRE_KERNEL_TESTS=1 (set by .ci/run), into a
/// failure, so CI can never pass by skipping.
enum KernelTestSupport {
    static let unavailableReason: String? = {
        if geteuid() != 0 { return "not running as root" }
        do {
            _ = try Tracefs.root()
            let probe = try EBPFWrapper(text: "int probe(void *ctx) { return 0; }")
            defer { probe.close() }
            try probe.loadFunction("probe", type: .tracepoint)
            return nil
        } catch {
            return "BPF is not usable here: \(error)"
        }
    }()

    static var required: Bool {
        ProcessInfo.processInfo.environment["EBPF_REQUIRE_KERNEL_TESTS"] == "1"
    }
}

extension XCTestCase {
    /// Only the test process's own events.
    var ourProcess: ProbeFilter { ProbeFilter(processID: ThisProcess.pid) }

    /// Only the calling thread's events: counts of the test's own calls are then exact.
    var ourThread: ProbeFilter { ProbeFilter(processID: ThisProcess.pid, threadID: ThisProcess.tid) }

    /// Probes on getppid, getpgid and fchdir's tracepoint for the calling thread, attached
    /// together through `b`, their events collected in `events`; and how many compiles that
    /// took. Syscalls the library itself does not make while attaching (it dup2s stdout and
    /// stderr to capture libbcc's output), so each count is the test's alone.
    func attachThreeSyscallProbes<Program>(_ b: EBPFWrapper<Program>, into events: Collected<ProbeEvent>) throws -> (
        probes: [Probe], compiles: Int
    ) {
        let compilesBefore = BPFModule.compileCount.load(ordering: .relaxed)
        let probes = try b.attach(
            [.syscall("getppid"), .syscall("getpgid"), .tracepoint("syscalls:sys_enter_fchdir")], filter: ourThread
        ) { events.append($0) }
        return (probes, BPFModule.compileCount.load(ordering: .relaxed) - compilesBefore)
    }

    /// Checks a generated probe's header against the calling thread: pid, tid, uid, gid,
    /// comm, CPU and a timestamp from the last 5 minutes (this test's, however late a busy
    /// machine delivered it).
    func assertHeader(_ event: ProbeEvent, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(event.processID, ThisProcess.pid, file: file, line: line)
        XCTAssertEqual(event.threadID, ThisProcess.tid, file: file, line: line)
        XCTAssertEqual(event.userID, getuid(), file: file, line: line)
        XCTAssertEqual(event.groupID, getgid(), file: file, line: line)
        XCTAssertEqual(event.processName, ThisProcess.comm, file: file, line: line)
        XCTAssertLessThan(event.cpu, ProcessInfo.processInfo.processorCount, file: file, line: line)
        let nanoseconds = KernelClock.now()
        XCTAssertLessThanOrEqual(event.timestamp, nanoseconds, file: file, line: line)
        XCTAssertGreaterThan(
            event.timestamp, nanoseconds - min(nanoseconds, 300_000_000_000),
            "within the last 5 minutes (or since boot)",
            file: file, line: line)
    }

    /// Call first in every test that loads BPF programs. Under AddressSanitizer it also
    /// registers the end-of-run leak check (``LeakCheck``).
    func requireKernel(file: StaticString = #filePath, line: UInt = #line) throws {
        LeakCheck.install
        guard let reason = KernelTestSupport.unavailableReason else { return }
        if KernelTestSupport.required {
            XCTFail(
                "kernel tests are required (EBPF_REQUIRE_KERNEL_TESTS=1) but cannot run: \(reason)", file: file,
                line: line)
            throw XCTSkip("failed above")
        }
        throw XCTSkip("kernel test skipped: \(reason)")
    }

    /// Polls `condition` until it holds or `timeout` passes; returns whether it held.
    @discardableResult
    func waitUntil(timeout: Duration = eventTimeout, _ condition: () -> Bool) -> Bool {
        pollUntil(timeout: timeout, condition)
    }
}

/// Checks `condition` every 2 ms until it holds or `timeout` passes; returns whether it held.
func pollUntil(timeout: Duration, _ condition: () -> Bool) -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if condition() { return true }
        usleep(2_000)
    }
    return condition()
}

/// A value behind an NSLock. (Not Synchronization.Mutex: on Linux it waits on futexes,
/// which ThreadSanitizer does not model, so everything it guards would be reported.)
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

/// Values collected from a callback on the polling thread.
final class Collected<Value: Sendable>: Sendable {
    private let values = Locked<[Value]>([])
    func append(_ value: Value) { values.withLock { $0.append(value) } }
    var all: [Value] { values.withLock { $0 } }
    var count: Int { values.withLock { $0.count } }
}

extension Collected where Value == ProbeEvent {
    /// The events in the order they happened (by kernel timestamp). Delivery keeps the order
    /// of each CPU's buffer only: a process that moves to another CPU between two events may
    /// have the second delivered first.
    var inFiringOrder: [ProbeEvent] { all.sorted { $0.timestamp < $1.timestamp } }
}

extension Aggregation {
    /// Each key's count, by the key's integer value (`Int.min` for the one key of an
    /// aggregation without keys).
    func countsByIntegerKey() throws -> [Int: UInt64] {
        var counts: [Int: UInt64] = [:]
        for entry in try snapshot() { counts[entry.key?.intValue ?? Int.min] = entry.count }
        return counts
    }
}

/// Affinity of the calling thread (sched_getaffinity(2)/sched_setaffinity(2); Glibc declares
/// them only under _GNU_SOURCE, so they are looked up by name).
enum CPUAffinity {
    private typealias Call = @convention(c) (pid_t, Int, UnsafeMutableRawPointer) -> Int32
    private static func call(_ name: String) -> Call {
        unsafeBitCast(dlsym(dlopen(nil, RTLD_NOW), name)!, to: Call.self)
    }

    /// Holds the calling thread on `cpu`; false when the kernel refuses (no such CPU online).
    @discardableResult
    static func pinCallingThread(to cpu: Int) -> Bool {
        var mask = [UInt8](repeating: 0, count: 128)
        mask[cpu / 8] |= UInt8(1 << (cpu % 8))
        return call("sched_setaffinity")(0, mask.count, &mask) == 0
    }

    /// Runs `body` with the calling thread held on one of the CPUs it may use, then gives it
    /// back all of them: the events a native program writes from `body` then all go to one
    /// CPU's perf buffer, and are delivered in the order `body` made them.
    static func onOneCPU<T>(_ body: () throws -> T) rethrows -> T {
        var saved = [UInt8](repeating: 0, count: 128)
        precondition(call("sched_getaffinity")(0, saved.count, &saved) == 0, "sched_getaffinity: \(errno)")
        let first = saved.firstIndex { $0 != 0 }.map { $0 * 8 + saved[$0].trailingZeroBitCount } ?? 0
        precondition(pinCallingThread(to: first), "sched_setaffinity to CPU \(first): \(errno)")
        defer { precondition(call("sched_setaffinity")(0, saved.count, &saved) == 0, "sched_setaffinity: \(errno)") }
        return try body()
    }
}

/// Facts about the calling process and thread, read from /proc so tests compare the
/// kernel's view with an independent one.
/// The running kernel, as /proc/sys/kernel/osrelease (`uname -r`) tells, read here rather than
/// through the library.
enum ThisKernel {
    /// `uname -r`: `6.1.0-57-amd64`.
    static var release: String {
        let text = (try? String(contentsOfFile: "/proc/sys/kernel/osrelease", encoding: .utf8)) ?? ""
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Whether the release is older than `major.minor`.
    static func isOlder(than major: Int, _ minor: Int) -> Bool {
        let parts = release.split(separator: ".").prefix(2).map { Int($0.prefix { $0.isNumber }) ?? 0 }
        return parts.count == 2 && (parts[0], parts[1]) < (major, minor)
    }
}

enum ThisProcess {
    static var pid: Int32 { getpid() }

    /// The kernel thread id of the calling thread.
    static var tid: Int32 {
        // /proc/thread-self -> "<pid>/task/<tid>"
        let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self")) ?? ""
        return Int32(target.split(separator: "/").last ?? "") ?? -1
    }

    /// The calling thread's name as the kernel reports it (`comm`).
    static var comm: String {
        let text = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? ""
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static var openFileDescriptors: Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1
    }
}

/// Whether this kernel loads fentry and fexit programs (``KernelFeatures/probeFentry()``).
var fentryLoads: Bool { (try? KernelFeatures.probeFentry()) != nil }

/// BPF C shared by the entry-and-return tests: `submit(ctx, is_return, value)` sends a
/// `struct call` of the thread TARGET_TID to the perf buffer `calls`; the test adds its
/// `on_entry` and `on_return` functions.
let callRecorderProgram = """
    #include <uapi/linux/ptrace.h>
    struct call { u32 tid; u32 is_return; s64 value; };
    BPF_PERF_OUTPUT(calls);
    static int submit(struct pt_regs *ctx, u32 is_return, s64 value) {
        u64 id = bpf_get_current_pid_tgid();
        if ((u32)id != TARGET_TID) return 0;
        struct call c = { .tid = (u32)id, .is_return = is_return, .value = value };
        calls.perf_submit(ctx, &c, sizeof(c));
        return 0;
    }

    """

/// A loopback TCP listener and a client connected to it (both closed by the caller), and the
/// listener's port, so a test can assert the fd and address a connect probe saw.
func connectOverLoopback() -> (client: Int32, listener: Int32, port: UInt16) {
    let listener = bindLoopbackSocket()
    precondition(listen(listener, 1) == 0, "listen() failed: \(errno)")
    var bound = sockaddr_in()
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &bound) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
    }
    let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    let rc = withUnsafePointer(to: &bound) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, length) }
    }
    precondition(rc == 0, "connect() failed: \(errno)")
    return (client, listener, UInt16(bigEndian: bound.sin_port))
}

/// Starts `arguments[0]` with `arguments` and `environment` and waits for it; its pid.
func spawnAndWait(_ arguments: [String], environment: [String]) -> pid_t {
    var child: pid_t = 0
    let argv = arguments.map { strdup($0) } + [nil]
    let envp = environment.map { strdup($0) } + [nil]
    defer { (argv + envp).forEach { free($0) } }
    precondition(posix_spawn(&child, arguments[0], nil, nil, argv, envp) == 0, "posix_spawn failed")
    var status: Int32 = 0
    waitpid(child, &status, 0)
    return child
}

/// The IPv4 socket address `address`:`port`.
func ipv4Address(_ address: String, port: UInt16) -> sockaddr_in {
    var result = sockaddr_in()
    result.sin_family = sa_family_t(AF_INET)
    result.sin_port = port.bigEndian
    result.sin_addr.s_addr = inet_addr(address)
    return result
}

/// Binds a fresh IPv4 TCP socket to 127.0.0.1:`port` and returns its fd (closed by the
/// caller), so a test can assert the fd and port a probe saw.
func bindLoopbackSocket(port: UInt16 = 0) -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    precondition(fd >= 0, "socket() failed: \(errno)")
    var address = ipv4Address("127.0.0.1", port: port)
    let rc = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    precondition(rc == 0, "bind() failed: \(errno)")
    return fd
}

extension XCTestCase {
    /// An example executable built beside this test bundle (`swift build` builds them all;
    /// scripts/test.sh does). Missing is a failure, not a skip.
    func builtExample(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> URL {
        let url = Bundle.module.bundleURL.deletingLastPathComponent().appendingPathComponent(name)
        guard FileManager.default.isExecutableFile(atPath: url.path) else {
            XCTFail("\(name) is not built at \(url.path); run `swift build` first", file: file, line: line)
            throw XCTSkip("failed above")
        }
        return url
    }

    /// Runs an example, calls `workload` once it printed a line containing `ready`, stops it
    /// with Ctrl-C (SIGINT), and returns its whole stdout and stderr after it exits with
    /// status 0. The example's duration argument only bounds a hang.
    func runExample(_ name: String, _ arguments: [String], ready: String, workload: () throws -> Void) throws -> String
    {
        let child = try ChildProcess(try builtExample(name).path, arguments, mergeOutput: true)
        XCTAssertTrue(child.waitForOutput(ready, timeout: childReadyTimeout), child.standardOutput)
        try workload()
        // Ctrl-C: the example prints what it counted and exits, whenever the workload ended.
        child.signal(SIGINT)
        XCTAssertEqual(child.wait(), .exited(0), child.standardOutput)
        return child.standardOutput
    }
}

/// The longest a child process (an example, ebpf-trace) may take to say it is ready: it may
/// compile with clang first, in a guest under qemu's emulation on a loaded host. Only a hang
/// takes this long; the guest itself is ended after 4800 s.
let childReadyTimeout: Duration = .seconds(600)

/// The longest a test waits for an event it caused, or a condition it drove, to show: a
/// bound only a failure reaches (a condition that holds returns at once), set for a loaded
/// qemu guest, which may take seconds to deliver an event.
let eventTimeout: Duration = .seconds(60)

/// A thread of the test's own that makes the calls a probe filters by thread, so that what
/// the test's thread does meanwhile (a compile, which redirects its output with dup2) is not
/// among them. ``run(_:)`` runs a closure there and returns when it has.
final class CallingThread: @unchecked Sendable {
    // @unchecked Sendable: `work` is handed over under the semaphores' happens-before.
    private var work: (() -> Void)?
    private let ready = DispatchSemaphore(value: 0)
    private let done = DispatchSemaphore(value: 0)
    private let threadID = Locked<Int32>(0)

    init() {
        Thread { [self] in
            threadID.withLock { $0 = ThisProcess.tid }
            done.signal()
            while true {
                ready.wait()
                guard let work else { return }
                work()
                self.work = nil
                done.signal()
            }
        }.start()
        done.wait()
    }

    /// The thread's id.
    var tid: Int32 { threadID.withLock { $0 } }

    /// Runs `body` on the thread; returns its result once it has run.
    func run<Result>(_ body: @escaping () -> Result) -> Result {
        var result: Result?
        work = { result = body() }
        ready.signal()
        done.wait()
        return result!
    }

    /// Ends the thread.
    func stop() {
        work = nil
        ready.signal()
    }
}

extension CompiledObject.Map {
    /// What a comparison of two programs' maps compares: name, type, sizes, entries, flags.
    var shape: String {
        "\(table.name) \(table.type) \(table.keySize) \(table.leafSize) \(table.maxEntries) \(flags)"
    }
}
