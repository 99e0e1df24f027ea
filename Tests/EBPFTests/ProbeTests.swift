@_spi(Generator) @testable import EBPF
import Foundation
import Logging
import Synchronization
import XCTest

/// Closure probes (no C) on the real kernel: each test performs the action itself and checks
/// the delivered event's header and argument values.
final class ProbeTests: XCTestCase {
    func testBindToPort31337ArrivesWithItsAddress() throws {
        try requireKernel()
        let b = try EBPFWrapper()
        defer { b.close() }
        let events = Collected<ProbeEvent>()
        let probe = try b.attach(.syscall("bind"), filter: ourProcess) { events.append($0) }
        XCTAssertEqual(probe.eventName, "syscalls:sys_enter_bind")

        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(31337).bigEndian
        address.sin_addr.s_addr = INADDR_ANY
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        XCTAssertEqual(rc, 0, "bind to 0.0.0.0:31337")

        XCTAssertTrue(waitUntil { events.count >= 1 })
        let event = try XCTUnwrap(events.all.first)
        assertHeader(event)
        XCTAssertEqual(event.eventName, "syscalls:sys_enter_bind")
        XCTAssertEqual(event.fd?.intValue, Int(fd))
        XCTAssertEqual(event.umyaddr?.description, "0.0.0.0:31337")
        XCTAssertEqual(event.umyaddr?.socketAddress?.port, 31337)
        XCTAssertEqual(event.umyaddr?.socketAddress?.family, Int(AF_INET))
        XCTAssertEqual(event.addrlen?.intValue, MemoryLayout<sockaddr_in>.size)
        XCTAssertEqual(event.fields.map(\.name), ["fd", "umyaddr", "addrlen"])
        XCTAssertEqual(events.count, 1)
        XCTAssertEqual(probe.receivedCount, 1)
        XCTAssertEqual(probe.lostCount, 0)
    }

    func testBindIPv6AndConnectAddresses() throws {
        try requireKernel()
        let b = try EBPFWrapper()
        defer { b.close() }
        let binds = Collected<ProbeEvent>()
        let connects = Collected<ProbeEvent>()
        try b.attach(.syscall("bind"), filter: ourProcess) { binds.append($0) }
        try b.attach(.syscall("connect"), filter: ourProcess) { connects.append($0) }

        // IPv6 bind on ::1, port chosen by the kernel.
        let v6 = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(v6) }
        var address6 = sockaddr_in6()
        address6.sin6_family = sa_family_t(AF_INET6)
        address6.sin6_addr = in6addr_loopback
        address6.sin6_port = UInt16(0).bigEndian
        _ = withUnsafePointer(to: &address6) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(v6, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
            }
        }

        let (client, listener, port) = connectOverLoopback()
        defer {
            close(client)
            close(listener)
        }

        XCTAssertTrue(waitUntil { binds.count >= 2 && connects.count >= 1 })
        XCTAssertEqual(binds.inFiringOrder.first?.umyaddr?.description, "[::1]:0")
        XCTAssertEqual(binds.inFiringOrder.first?.fd?.intValue, Int(v6))
        XCTAssertEqual(
            binds.inFiringOrder.last?.umyaddr?.description, "127.0.0.1:0",
            "bound to port 0: the kernel picks \(port) after the call")
        let connected = try XCTUnwrap(connects.all.first)
        assertHeader(connected)
        XCTAssertEqual(connected.fd?.intValue, Int(client))
        XCTAssertEqual(connected.uservaddr?.description, "127.0.0.1:\(port)")
    }

    func testOpenatArrivesWithThePathAsAString() throws {
        try requireKernel()
        let b = try EBPFWrapper()
        defer { b.close() }
        let events = Collected<ProbeEvent>()
        try b.attach(.tracepoint("syscalls:sys_enter_openat"), filter: ourProcess) { events.append($0) }
        let path = "/tmp/ebpf-openat-\(UUID().uuidString)"
        let fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0o640)
        XCTAssertGreaterThanOrEqual(fd, 0)
        close(fd)
        unlink(path)
        XCTAssertTrue(waitUntil { events.all.contains { $0.filename?.stringValue == path } })
        let event = try XCTUnwrap(events.all.first { $0.filename?.stringValue == path })
        assertHeader(event)
        XCTAssertEqual(event.dfd?.intValue, Int(AT_FDCWD), "int dfd decodes as a signed int: -100")
        XCTAssertEqual(event.flags?.intValue, Int(O_CREAT | O_WRONLY | O_CLOEXEC))
        XCTAssertEqual(event.mode?.intValue, 0o640)
    }

    func testExecveAndSchedProcessExecOfAChild() throws {
        try requireKernel()
        let b = try EBPFWrapper()
        defer { b.close() }
        let execs = Collected<ProbeEvent>()
        let scheduled = Collected<ProbeEvent>()
        try b.attach(.syscall("execve")) { execs.append($0) }
        // A non-syscall tracepoint whose filename is a __data_loc string.
        try b.attach(.tracepoint("sched:sched_process_exec")) { scheduled.append($0) }

        let child = spawnAndWait(["/bin/true", "ebpf-argv", "two words", ""], environment: ["EBPF_ARGV=1", "B=2"])
        XCTAssertTrue(
            waitUntil {
                execs.all.contains { $0.processID == child } && scheduled.all.contains { $0.processID == child }
            })
        let exec = try XCTUnwrap(execs.all.first { $0.processID == child })
        XCTAssertEqual(exec.filename?.stringValue, "/bin/true")
        XCTAssertEqual(exec.userID, getuid())
        XCTAssertEqual(exec.argv?.stringsValue, ["/bin/true", "ebpf-argv", "two words", ""], "argv as strings")
        XCTAssertEqual(exec.envp?.stringsValue, ["EBPF_ARGV=1", "B=2"])
        let done = try XCTUnwrap(scheduled.all.first { $0.processID == child })
        XCTAssertEqual(done.filename?.stringValue, "/bin/true")
        XCTAssertEqual(done["pid"]?.intValue, Int(child))
        XCTAssertEqual(done.processName, "true", "comm is the new program's after exec")
    }

    func testCloneFromFork() throws {
        try requireKernel()
        let b = try EBPFWrapper()
        defer { b.close() }
        let events = Collected<ProbeEvent>()
        try b.attach(.syscall("clone"), filter: ProbeFilter(threadID: ThisProcess.tid)) { events.append($0) }
        let child = fork()
        if child == 0 { _exit(0) }
        XCTAssertGreaterThan(child, 0)
        var status: Int32 = 0
        waitpid(child, &status, 0)
        XCTAssertTrue(waitUntil { events.count >= 1 })
        let event = try XCTUnwrap(events.all.first)
        assertHeader(event)
        // glibc's fork(): CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | SIGCHLD (linux/sched.h).
        let childTIDFlags: UInt64 = 0x0100_0000 | 0x0020_0000
        let flags = try XCTUnwrap(event.clone_flags?.uint64Value)
        XCTAssertEqual(flags & 0xff, UInt64(SIGCHLD))
        XCTAssertEqual(flags & childTIDFlags, childTIDFlags)
        XCTAssertEqual(events.count, 1)
    }

    func testSignalGenerateIsANonSyscallTracepoint() throws {
        try requireKernel()
        let b = try EBPFWrapper()
        defer { b.close() }
        let events = Collected<ProbeEvent>()
        try b.attach(.tracepoint("signal:signal_generate"), filter: ourProcess) { events.append($0) }
        let previous = signal(SIGUSR2, SIG_IGN)
        defer { signal(SIGUSR2, previous) }
        kill(getpid(), SIGUSR2)
        XCTAssertTrue(waitUntil { events.all.contains { $0.sig?.intValue == Int(SIGUSR2) } })
        let event = try XCTUnwrap(events.all.first { $0.sig?.intValue == Int(SIGUSR2) })
        assertHeader(event)
        XCTAssertEqual(event["pid"]?.intValue, Int(getpid()), "the target's pid, a format field beside the header's")
        let mainComm = try String(contentsOfFile: "/proc/self/comm", encoding: .utf8).trimmingCharacters(in: .newlines)
        XCTAssertEqual(event.comm?.stringValue, mainComm)
        XCTAssertEqual(event.result?.intValue, 1, "TRACE_SIGNAL_IGNORED")
    }

    func testFiltersDropWhatTheyShould() throws {
        try requireKernel()
        let b = try EBPFWrapper()
        defer { b.close() }
        let all = Collected<ProbeEvent>()
        let otherName = Collected<ProbeEvent>()
        let sameName = Collected<ProbeEvent>()
        let otherUser = Collected<ProbeEvent>()
        let otherThread = Collected<ProbeEvent>()
        try b.attach(.syscall("bind"), filter: ourProcess) { all.append($0) }
        try b.attach(.syscall("bind"), filter: ProbeFilter(processName: "no-such-comm")) { otherName.append($0) }
        try b.attach(.syscall("bind"), filter: ProbeFilter(processID: ThisProcess.pid, processName: ThisProcess.comm)) {
            sameName.append($0)
        }
        try b.attach(.syscall("bind"), filter: ProbeFilter(processID: ThisProcess.pid, userID: getuid() + 12345)) {
            otherUser.append($0)
        }
        try b.attach(.syscall("bind"), filter: ProbeFilter(processID: ThisProcess.pid, threadID: ThisProcess.tid + 1)) {
            otherThread.append($0)
        }
        XCTAssertEqual(b.session.probes.count, 5, "five probes on one wrapper")

        for _ in 0..<3 { close(bindLoopbackSocket()) }
        XCTAssertTrue(waitUntil { all.count >= 3 && sameName.count >= 3 })
        XCTAssertTrue(waitForDeliveryOfEverythingWrittenSoFar(b))
        XCTAssertEqual(all.count, 3)
        XCTAssertEqual(sameName.count, 3)
        XCTAssertEqual(otherName.all.filter { $0.processID == ThisProcess.pid }.count, 0)
        XCTAssertEqual(otherUser.count, 0)
        XCTAssertEqual(otherThread.count, 0)
    }

    func testDetachAndCloseStopDelivery() throws {
        try requireKernel()
        let before = ThisProcess.openFileDescriptors
        let b = try EBPFWrapper()
        let binds = Collected<ProbeEvent>()
        let opens = Collected<ProbeEvent>()
        let bindProbe = try b.attach(.syscall("bind"), filter: ourProcess) { binds.append($0) }
        try b.attach(.syscall("openat"), filter: ourProcess) { opens.append($0) }
        close(bindLoopbackSocket())
        close(open("/dev/null", O_RDONLY))
        XCTAssertTrue(waitUntil { binds.count == 1 && opens.all.contains { $0.filename?.stringValue == "/dev/null" } })

        bindProbe.detach()
        XCTAssertFalse(bindProbe.isAttached)
        close(bindLoopbackSocket())
        close(open("/dev/null", O_RDONLY))
        XCTAssertTrue(
            waitUntil { opens.all.filter { $0.filename?.stringValue == "/dev/null" }.count == 2 },
            "the other probe still delivers")
        XCTAssertEqual(binds.count, 1, "nothing after detach")

        b.close()
        let afterClose = opens.count
        close(open("/dev/null", O_RDONLY))
        usleep(50_000)
        XCTAssertEqual(opens.count, afterClose, "nothing after close")
        XCTAssertTrue(b.session.probes.isEmpty)
        XCTAssertEqual(ThisProcess.openFileDescriptors, before, "close() releases every probe's fds")
    }

    func testGeneratedSyscallKprobeProgramPassesTheVerifier() throws {
        // Kprobes cannot attach on this kernel, but the generated program that reads the
        // syscall's arguments behind the x86-64 wrapper must still load.
        try requireKernel()
        let format = try TracepointFormat.load(category: "syscalls", name: "sys_enter_connect")
        let program = try ProbeProgram(
            resolved: .syscallKprobe(function: "__x64_sys_connect", wrapped: true), format: format,
            filter: ProbeFilter(processID: 1), options: .default)
        XCTAssertTrue(program.text.contains("&ebpf_regs->di"))
        let compiled = try EBPFWrapper(text: program.text)
        defer { compiled.close() }
        XCTAssertTrue(try compiled.loadFunction(ProbeProgram.standaloneFunctionName, type: .kprobe).isOpen)
        let generic = try ProbeProgram(
            resolved: .functionKprobe(function: "tcp_v4_connect", parameters: nil), format: nil, filter: ProbeFilter(),
            options: .default)
        XCTAssertEqual(generic.layout.fields.map(\.name), ["arg0", "arg1", "arg2", "arg3", "arg4", "arg5"])
        let compiledGeneric = try EBPFWrapper(text: generic.text)
        defer { compiledGeneric.close() }
        XCTAssertTrue(try compiledGeneric.loadFunction(ProbeProgram.standaloneFunctionName, type: .kprobe).isOpen)
    }

    func testAsyncSequenceDeliversAndDetachesWhenTheLoopEnds() async throws {
        try requireKernel()
        let b = try EBPFWrapper()
        defer { b.close() }
        let events = try b.events(.syscall("bind"), filter: ourProcess)
        let probe = events.probe
        // A missing event must fail the test, not hang it: the probe detaches after a while.
        let watchdog = Task {
            try await Task.sleep(for: eventTimeout)
            probe.detach()
        }
        defer { watchdog.cancel() }
        let fd = bindLoopbackSocket()
        defer { close(fd) }
        var received: ProbeEvent?
        for await event in events {
            received = event
            break
        }
        XCTAssertEqual(received?.fd?.intValue, Int(fd))
        XCTAssertEqual(received?.processID, ThisProcess.pid)
        XCTAssertTrue(waitUntil { !probe.isAttached }, "leaving the loop detaches the probe")
    }

    func testBadNamesAreRejectedBeforeAnythingIsBuilt() throws {
        try requireKernel()
        let b = try EBPFWrapper()
        defer { b.close() }
        for bad in ["bind; }", "../../x", " bind", "bind\n", "bi\"nd", ""] {
            XCTAssertThrowsError(try b.attach(.syscall(bad)) { _ in }, bad) { error in
                XCTAssertEqual((error as! EBPFError).code, .invalidArgument, bad)
            }
        }
        for bad in ["../../x:y", "syscalls:sys_enter_bind; }", "syscalls:sys enter", "syscalls"] {
            XCTAssertThrowsError(try b.attach(.tracepoint(bad)) { _ in }, bad) { error in
                XCTAssertEqual((error as! EBPFError).code, .invalidArgument, bad)
            }
        }
        XCTAssertThrowsError(try b.attachKprobe(event: "__x64_sys_bind; rm") { _ in }) { error in
            XCTAssertEqual((error as! EBPFError).code, .invalidArgument)
        }
        XCTAssertThrowsError(try b.attach(.syscall("no_such_syscall")) { _ in }) { error in
            let error = error as! EBPFError
            XCTAssertEqual(error.code, .notFound)
            XCTAssertTrue(error.message.contains("no_such_syscall"), error.message)
        }
        XCTAssertThrowsError(try b.attach(.tracepoint("sched:no_such_event")) { _ in }) { error in
            XCTAssertEqual((error as! EBPFError).code, .notFound)
        }
        XCTAssertTrue(b.session.probes.isEmpty)
    }
}

/// Collects log messages.
final class LogCapture: LogHandler, Sendable {
    private let messages = Locked<[String]>([])
    var all: [String] { messages.withLock { $0 } }
    var metadata: Logger.Metadata {
        get { [:] }
        set {}
    }
    var logLevel: Logger.Level {
        get { .trace }
        set {}
    }
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { nil }
        set {}
    }
    func log(event: LogEvent) {
        messages.withLock { $0.append(event.message.description) }
    }
}

extension ProbeTests {
    /// `stringArrayCount` and `stringArrayElementSize` bound what is copied, the same whether
    /// the probe's instructions are emitted by the library or compiled by clang.
    func testStringArraysAreBoundedAlikeEmittedAndCompiled() throws {
        try requireKernel()
        let options = ProbeOptions(stringArrayCount: 3, stringArrayElementSize: 6)
        var seen: [[String]?] = []
        for builder in [ProbeBuilder.emitter, .compiler] {
            let b = try EBPFWrapper(cache: nil, probeBuilder: builder)
            defer { b.close() }
            let execs = Collected<ProbeEvent>()
            try b.attach(.syscall("execve"), options: options) { execs.append($0) }
            let child = spawnAndWait(["/bin/true", "12345678", "a", "b", "c"], environment: [])
            XCTAssertTrue(waitUntil { execs.all.contains { $0.processID == child } })
            seen.append(execs.all.first { $0.processID == child }?.argv?.stringsValue)
        }
        XCTAssertEqual(seen, [["/bin/", "12345", "a"], ["/bin/", "12345", "a"]], "3 strings of 5 bytes and a NUL")
        XCTAssertThrowsError(
            try EBPFWrapper().session.program(for: .syscall("execve"), options: ProbeOptions(stringArrayCount: 65)))
        XCTAssertThrowsError(
            try EBPFWrapper().session.program(
                for: .syscall("execve"), options: ProbeOptions(stringArrayCount: 64, stringArrayElementSize: 1024)))
    }
}
