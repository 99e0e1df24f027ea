@_spi(Generator) @testable import EBPF
import Foundation
import Logging
import XCTest
@testable import EBPFKernel

/// Kprobes and kretprobes, closure and native, on whichever kernel runs the suite: the host
/// (which may lack CONFIG_KPROBES) and the Debian 6.1 guest of `scripts/kernel-vm.sh` (which
/// has it). What the kernel has decides what each test asserts, never whether it runs: real
/// events with exact values where kprobes exist, the exact error or fallback where not.
final class KprobeTests: XCTestCase {
    /// Whether this kernel can attach kprobes; the first test checks the library's answer
    /// against the kernel's own configuration.
    var kprobes: Bool { KernelFeatures.supportsKprobes }

    func testKernelFeaturesMatchTheKernelsConfiguration() throws {
        try requireKernel()
        guard let config = KernelConfiguration.load() else {
            if KernelTestSupport.required {
                XCTFail(
                    "no kernel configuration found (EBPF_KERNEL_CONFIG, /boot/config-\(ThisKernel.release), /proc/config.gz): the test cannot know what this kernel has"
                )
            }
            throw XCTSkip("no kernel configuration to compare with")
        }
        print(
            "KERNEL release=\(ThisKernel.release) kprobes=\(kprobes) uprobes=\(KernelFeatures.supportsUprobes) (from \(config.source))"
        )
        XCTAssertEqual(
            kprobes, config.isEnabled("KPROBES") && config.isEnabled("KPROBE_EVENTS"),
            "kprobes, against \(config.source)")
        XCTAssertEqual(
            KernelFeatures.supportsUprobes, config.isEnabled("UPROBE_EVENTS"), "uprobes, against \(config.source)")
        if let expected = ProcessInfo.processInfo.environment["EBPF_KERNEL_VM"] {
            XCTAssertEqual(
                ThisKernel.release, expected, "running in the guest kernel scripts/kernel-vm.sh booted")
            XCTAssertTrue(kprobes, "the guest kernel is there to prove kprobes")
        }
    }

    /// A wrapper whose log the test reads, for the fallback message.
    func makeWrapper() throws -> (EBPFWrapper<NoProgram>, LogCapture) {
        let messages = LogCapture()
        return (try EBPFWrapper(logger: Logger(label: "test") { _ in messages }), messages)
    }

    /// Attaches a closure kprobe to `syscall`'s entry function and checks how it reached the
    /// kernel: a real kprobe and no fallback message where kprobes exist, the syscall's
    /// tracepoint and a message saying so where not.
    func attachSyscallKprobe(
        _ syscall: String, on b: EBPFWrapper<some WrapperProgram>, messages: LogCapture, file: StaticString = #filePath,
        line: UInt = #line
    ) throws -> Collected<ProbeEvent> {
        let function = try b.syscallFunctionName(syscall)
        XCTAssertEqual(
            function, "__x64_sys_\(syscall)", "x86-64 kernels since 4.17 prefix syscalls so", file: file, line: line)
        let events = Collected<ProbeEvent>()
        let probe = try b.attachKprobe(event: function, filter: ourProcess) { events.append($0) }
        let fallback = messages.all.filter { $0.contains("no kprobe support") }
        if kprobes {
            XCTAssertEqual(probe.eventName, "kprobe:\(function)", file: file, line: line)
            XCTAssertEqual(fallback, [], "no fallback where kprobes exist", file: file, line: line)
        } else {
            XCTAssertEqual(probe.eventName, "syscalls:sys_enter_\(syscall)", file: file, line: line)
            XCTAssertEqual(fallback.count, 1, "\(messages.all)", file: file, line: line)
            XCTAssertTrue(
                fallback.first?.contains("syscalls:sys_enter_\(syscall)") ?? false, "\(fallback)", file: file,
                line: line)
        }
        return events
    }

    /// Waits for the first event, then for a drain pass of `b` begun after it (so that a
    /// second event, had there been one, was delivered too), checks that it is the only one
    /// and that its header is the calling thread's, and returns it.
    func soleEvent(
        _ events: Collected<ProbeEvent>, of b: EBPFWrapper<some WrapperProgram>, file: StaticString = #filePath,
        line: UInt = #line
    ) throws
        -> ProbeEvent
    {
        XCTAssertTrue(waitUntil { events.count >= 1 }, "no event", file: file, line: line)
        XCTAssertTrue(waitForDeliveryOfEverythingWrittenSoFar(b), "a drain pass", file: file, line: line)
        XCTAssertEqual(events.count, 1, "\(events.all)", file: file, line: line)
        let event = try XCTUnwrap(events.all.first, file: file, line: line)
        assertHeader(event, file: file, line: line)
        return event
    }

    func testClosureKprobeOnBindReadsFdAndAddressBehindTheSyscallWrapper() throws {
        try requireKernel()
        let (b, messages) = try makeWrapper()
        defer { b.close() }
        let events = try attachSyscallKprobe("bind", on: b, messages: messages)

        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        // The probe sees the arguments at entry, whether or not the port is free.
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(31337).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }

        let event = try soleEvent(events, of: b)
        XCTAssertEqual(event.eventName, kprobes ? "kprobe:__x64_sys_bind" : "syscalls:sys_enter_bind")
        XCTAssertEqual(event.fields.map(\.name), ["fd", "umyaddr", "addrlen"])
        XCTAssertEqual(event.fd?.intValue, Int(fd))
        XCTAssertEqual(event.umyaddr?.description, "127.0.0.1:31337")
        XCTAssertEqual(event.umyaddr?.socketAddress?.port, 31337)
        XCTAssertEqual(event.addrlen?.intValue, MemoryLayout<sockaddr_in>.size)
    }

    func testClosureKprobeOnOpenatReadsTheFilename() throws {
        try requireKernel()
        let (b, messages) = try makeWrapper()
        defer { b.close() }
        let events = try attachSyscallKprobe("openat", on: b, messages: messages)
        let directory = open("/tmp", O_RDONLY | O_DIRECTORY)
        defer { close(directory) }
        let name = "ebpf-kprobe-\(UUID().uuidString)"
        let fd = openat(directory, name, O_CREAT | O_WRONLY | O_CLOEXEC, 0o600)
        XCTAssertGreaterThanOrEqual(fd, 0)
        close(fd)
        unlinkat(directory, name, 0)

        XCTAssertTrue(waitUntil { events.all.contains { $0.filename?.stringValue == name } })
        let event = try XCTUnwrap(events.all.first { $0.filename?.stringValue == name })
        assertHeader(event)
        XCTAssertEqual(event.dfd?.intValue, Int(directory))
        XCTAssertEqual(event.flags?.intValue, Int(O_CREAT | O_WRONLY | O_CLOEXEC))
        XCTAssertEqual(event.mode?.intValue, 0o600)
    }

    func testClosureKprobeOnConnectReadsThePeerAddress() throws {
        try requireKernel()
        let (b, messages) = try makeWrapper()
        defer { b.close() }
        let events = try attachSyscallKprobe("connect", on: b, messages: messages)
        let (client, listener, port) = connectOverLoopback()
        defer {
            close(client)
            close(listener)
        }

        let event = try soleEvent(events, of: b)
        XCTAssertEqual(event.fd?.intValue, Int(client))
        XCTAssertEqual(event.uservaddr?.description, "127.0.0.1:\(port)")
        XCTAssertEqual(event.addrlen?.intValue, MemoryLayout<sockaddr_in>.size)
    }

    /// `dup3(old, new, O_CLOEXEC)` calls the kernel function `ksys_dup3(old, new, flags)`
    /// (fs/file.c; a function of its own in Debian's 6.1): its first three arguments are
    /// known to the test.
    func testClosureKprobeOnAKernelFunctionSeesItsArguments() throws {
        try requireKernel()
        let (b, _) = try makeWrapper()
        defer { b.close() }
        let events = Collected<ProbeEvent>()
        guard kprobes else {
            XCTAssertThrowsError(try b.attachKprobe(event: "ksys_dup3", filter: ourProcess) { events.append($0) }) {
                error in
                let error = error as! EBPFError
                XCTAssertEqual(error.code, .notSupported)
                XCTAssertTrue(
                    error.message.contains("no kprobe support") && error.message.contains("CONFIG_KPROBES"),
                    error.message)
                XCTAssertTrue(
                    error.message.contains("attach to a tracepoint instead (tracepoint:CATEGORY:NAME"),
                    "says what to use instead: \(error.message)")
            }
            XCTAssertTrue(b.session.probes.isEmpty, "nothing half attached")
            return
        }
        let probe = try b.attachKprobe(event: "ksys_dup3", filter: ourProcess) { events.append($0) }
        XCTAssertEqual(probe.eventName, "kprobe:ksys_dup3")
        let source = open("/dev/null", O_RDONLY)
        defer { close(source) }
        let target = unusedDescriptor()
        XCTAssertEqual(dup3(source, target, O_CLOEXEC), target)
        close(target)

        let event = try soleEvent(events, of: b)
        // Named and typed from the guest kernel's BTF: ksys_dup3(unsigned int oldfd,
        // unsigned int newfd, int flags).
        XCTAssertEqual(event.fields.map(\.name), ["oldfd", "newfd", "flags"])
        XCTAssertEqual(event.oldfd?.intValue, Int(source))
        XCTAssertEqual(event.newfd?.intValue, Int(target))
        XCTAssertEqual(event.flags?.intValue, Int(O_CLOEXEC))
    }

    /// A closure kretprobe's `ret`, typed from BTF as the function's `int`: ksys_dup3's new
    /// descriptor, then -EINVAL for a descriptor duplicated onto itself. And the latency of
    /// a kernel function, kprobe to kretprobe: one per call. Where kprobes are missing, both
    /// throw the documented error and leave nothing attached.
    func testClosureKretprobeReturnValuesAndKernelFunctionLatency() throws {
        try requireKernel()
        let (b, _) = try makeWrapper()
        defer { b.close() }
        let events = Collected<ProbeEvent>()
        guard kprobes else {
            XCTAssertThrowsError(try b.attach(.kretprobe("ksys_dup3"), filter: ourProcess) { events.append($0) }) {
                error in
                let error = error as! EBPFError
                XCTAssertEqual(error.code, .notSupported)
                XCTAssertTrue(error.message.contains("CONFIG_KPROBES"), error.message)
            }
            XCTAssertThrowsError(try b.aggregate(.kprobe("ksys_dup3"), .latency, filter: ourProcess)) { error in
                let error = error as! EBPFError
                XCTAssertEqual(error.code, .notSupported)
                XCTAssertTrue(error.message.contains("CONFIG_KPROBES"), error.message)
            }
            XCTAssertTrue(b.session.probes.isEmpty && b.session.attachments.isEmpty, "nothing half attached")
            return
        }
        // The calls come from a thread of their own: a compile on this thread redirects its
        // output with dup2, which is ksys_dup3 too.
        let caller = CallingThread()
        defer { caller.stop() }
        let onCaller = ProbeFilter(threadID: caller.tid)
        let probe = try b.attach(.kretprobe("ksys_dup3"), filter: onCaller) { events.append($0) }
        XCTAssertEqual(probe.eventName, "kretprobe:ksys_dup3")
        let latency = try b.aggregate(.kprobe("ksys_dup3"), .latency, filter: onCaller)
        let returned = try b.aggregate(.kretprobe("ksys_dup3"), .histogram(of: "ret"), filter: onCaller)
        let source = open("/dev/null", O_RDONLY)
        defer { close(source) }
        let target = unusedDescriptor()
        XCTAssertEqual(caller.run { self.dup3(source, target, O_CLOEXEC) }, target)
        close(target)
        XCTAssertEqual(caller.run { self.dup3(source, source, 0) }, -1)
        XCTAssertTrue(waitUntil { events.count >= 2 }, "\(events.all)")
        XCTAssertTrue(waitForDeliveryOfEverythingWrittenSoFar(b))
        XCTAssertEqual(events.inFiringOrder.map { $0.ret?.intValue }, [Int(target), -Int(EINVAL)])
        XCTAssertEqual(try latency.snapshot().map(\.count), [2])
        // `ret` typed from BTF (int) in an aggregation too: -22 falls below the buckets.
        let histogram = try XCTUnwrap(try returned.snapshot().first)
        XCTAssertEqual(histogram.count, 2)
        XCTAssertEqual(histogram.belowRangeCount, 1)
        XCTAssertEqual(histogram.sum, Int64(target) - Int64(EINVAL))
    }

    /// Parameters from BTF, one level into `struct sock`: `tcp_connect(struct sock *sk)`
    /// gives the connection's family and both ends, `do_sys_openat2(int dfd, const char
    /// *filename, struct open_how *how)` the file's name. Where kprobes are missing the
    /// program is still generated from this kernel's BTF and passes its verifier.
    func testClosureKprobeParametersFromBTF() throws {
        try requireKernel()
        let (b, _) = try makeWrapper()
        defer { b.close() }
        let socketAddresses = ProbeOptions(arguments: ArgumentReading(socketAddresses: true))
        let parameters = try XCTUnwrap(KernelParameter.of(function: "tcp_connect", dereferencing: true))
        let generated = try ProbeProgram(
            resolved: .functionKprobe(function: "tcp_connect", parameters: parameters), format: nil,
            filter: ourProcess, options: .default)
        XCTAssertEqual(generated.layout.fields.map(\.name), ["sk", "sk_family", "sk_source", "sk_destination"])
        let compiled = try EBPFWrapper(text: generated.text)
        defer { compiled.close() }
        XCTAssertNoThrow(try compiled.loadFunction(ProbeProgram.standaloneFunctionName, type: .kprobe), "verified")

        guard kprobes else {
            XCTAssertThrowsError(try b.attach(.kprobe("tcp_connect"), options: socketAddresses) { _ in }) { error in
                XCTAssertEqual((error as? EBPFError)?.code, .notSupported)
            }
            return
        }
        let connects = Collected<ProbeEvent>()
        let opens = Collected<ProbeEvent>()
        try b.attach(.kprobe("tcp_connect"), filter: ourThread, options: socketAddresses) { connects.append($0) }
        try b.attach(.kprobe("do_sys_openat2"), filter: ourThread) { opens.append($0) }
        let (client, listener, port) = connectOverLoopback()
        defer {
            close(client)
            close(listener)
        }
        var local = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(client, $0, &length) }
        }
        let path = "/tmp/ebpf-btf-\(UUID().uuidString)"
        close(open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0o600))
        unlink(path)

        let connect = try soleEvent(connects, of: b)
        XCTAssertEqual(connect.sk_family?.intValue, Int(AF_INET))
        XCTAssertEqual(connect.sk_destination?.description, "127.0.0.1:\(port)")
        XCTAssertEqual(connect.sk_source?.description, "127.0.0.1:\(UInt16(bigEndian: local.sin_port))")
        XCTAssertTrue(waitUntil { opens.all.contains { $0.filename?.stringValue == path } })
        let open = try XCTUnwrap(opens.all.first { $0.filename?.stringValue == path })
        XCTAssertEqual(open.dfd?.intValue, Int(AT_FDCWD))
        XCTAssertEqual(open.fields.map(\.name), ["dfd", "filename", "how"])
    }

    /// A native kprobe and kretprobe on `dup2`'s syscall function: the entry reads the new
    /// descriptor behind the x86-64 syscall wrapper, the return sees it as dup2's result.
    func testNativeKprobeAndKretprobeSeeDup2sNewDescriptor() throws {
        try requireKernel()
        let b = try EBPFWrapper(
            text: callRecorderProgram + """
                int on_entry(struct pt_regs *ctx) {
                    struct pt_regs *regs = (struct pt_regs *)PT_REGS_PARM1(ctx);
                    s64 newfd = -1;
                    bpf_probe_read_kernel(&newfd, sizeof(newfd), &regs->si);
                    return submit(ctx, 0, newfd);
                }
                int on_return(struct pt_regs *ctx) { return submit(ctx, 1, PT_REGS_RC(ctx)); }
                """, cflags: ["-DTARGET_TID=\(ThisProcess.tid)"])
        defer { b.close() }
        XCTAssertTrue(try b.loadFunction("on_entry", type: .kprobe).isOpen, "loads on every kernel")
        let function = try b.syscallFunctionName("dup2")
        guard kprobes else {
            XCTAssertThrowsError(try b.attachKprobe(event: function, fnName: "on_entry")) { error in
                let error = error as! EBPFError
                XCTAssertEqual(error.code, .notSupported)
                XCTAssertTrue(error.message.contains("CONFIG_KPROBES"), error.message)
                XCTAssertTrue(
                    error.message.contains("attach to tracepoint:syscalls:sys_enter_dup2 instead"), error.message)
            }
            XCTAssertThrowsError(try b.attach(function: "on_return", to: .kretprobe(function))) { error in
                XCTAssertEqual((error as! EBPFError).code, .notSupported)
                XCTAssertTrue((error as! EBPFError).message.contains("syscalls:sys_exit_dup2"))
            }
            XCTAssertTrue(b.session.attachments.isEmpty, "nothing half attached")
            return
        }
        let entry = try b.attachKprobe(event: function, fnName: "on_entry")
        let exit = try b.attach(function: "on_return", to: .kretprobe(function))
        XCTAssertEqual([entry.point, exit.point], [.kprobe(function), .kretprobe(function)])
        let calls = Collected<EventRecord>()
        try b.table("calls").openPerfBuffer { calls.append($0) }
        func seen() -> [[Int]] { calls.all.map { [$0.is_return?.intValue ?? -1, $0.value?.intValue ?? -1] } }

        let source = open("/dev/null", O_RDONLY)
        defer { close(source) }
        let first = unusedDescriptor()
        XCTAssertEqual(CPUAffinity.onOneCPU { dup2(source, first) }, first)
        close(first)
        XCTAssertTrue(waitUntil { calls.count >= 2 })
        XCTAssertTrue(waitForDeliveryOfEverythingWrittenSoFar(b))
        XCTAssertEqual(seen(), [[0, Int(first)], [1, Int(first)]], "entry then return")

        entry.detach()
        XCTAssertFalse(entry.isAttached)
        let second = unusedDescriptor()
        XCTAssertEqual(dup2(source, second), second)
        close(second)
        XCTAssertTrue(waitUntil { calls.count >= 3 })
        XCTAssertTrue(waitForDeliveryOfEverythingWrittenSoFar(b))
        XCTAssertEqual(seen().dropFirst(2), [[1, Int(second)]], "only the kretprobe after the kprobe's detach")

        b.close()
        XCTAssertTrue(b.session.attachments.isEmpty)
        XCTAssertEqual(dup2(source, second), second)
        close(second)
        usleep(50_000)
        XCTAssertEqual(calls.count, 3, "nothing after close()")
    }

    /// dup3(2); Glibc declares it only under _GNU_SOURCE, so it is looked up by name.
    func dup3(_ old: Int32, _ new: Int32, _ flags: Int32) -> Int32 {
        typealias Dup3 = @convention(c) (Int32, Int32, Int32) -> Int32
        guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "dup3") else { return -1 }
        return unsafeBitCast(symbol, to: Dup3.self)(old, new, flags)
    }

    /// A descriptor number this process has not open (so dup2 onto it closes nothing).
    func unusedDescriptor() -> Int32 {
        var candidate: Int32 = 600
        while fcntl(candidate, F_GETFD) != -1 { candidate += 1 }
        return candidate
    }

    func testSyscallFunctionNameSaysSoWhenKallsymsNamesNoSyscall() throws {
        XCTAssertEqual(
            KernelSymbols.syscallPrefix(isKernelSymbol: ["__x64_sys_bpf", "__do_sys_bpf"].contains), "__x64_sys_")
        XCTAssertEqual(KernelSymbols.syscallPrefix(isKernelSymbol: ["sys_bpf", "sys_bind"].contains), "sys_")
        // /proc unmounted, or sysfs where procfs should be: nothing to guess from.
        XCTAssertNil(KernelSymbols.syscallPrefix { _ in false })
        XCTAssertNil(KernelSymbols.syscallPrefix(isKernelSymbol: ["_stext"].contains))
        // This kernel's, through libbcc's cache, agrees with kallsyms read directly.
        let kallsyms = try SystemFiles.readText("/proc/kallsyms")
        let names = Set(
            kallsyms.split(separator: "\n").compactMap { $0.split(separator: " ").dropFirst(2).first.map(String.init) })
        XCTAssertEqual(KernelSymbols.syscallPrefix, KernelSymbols.syscallPrefix(isKernelSymbol: names.contains))
        XCTAssertNotNil(KernelSymbols.syscallPrefix)
        let error = KernelSymbols.syscallPrefixUnknown
        XCTAssertEqual(error.code, .notFound)
        XCTAssertTrue(
            error.message.contains("/proc/kallsyms") && error.message.contains("attach(.syscall("), error.message)
    }
}

/// The running kernel's build configuration, read independently of the library: the file
/// scripts/kernel-vm.sh names for its guest, /boot/config-<release>, or /proc/config.gz.
struct KernelConfiguration {
    let source: String
    let options: Set<String>

    func isEnabled(_ option: String) -> Bool { options.contains("CONFIG_\(option)=y") }

    static func load() -> KernelConfiguration? {
        let files = [ProcessInfo.processInfo.environment["EBPF_KERNEL_CONFIG"], "/boot/config-\(ThisKernel.release)"]
            .compactMap {
                $0
            }
        for path in files {
            if let text = try? String(contentsOfFile: path, encoding: .utf8) {
                return KernelConfiguration(source: path, text: text)
            }
        }
        if FileManager.default.fileExists(atPath: "/proc/config.gz"),
            let (termination, text) = try? runToCompletion("/bin/gzip", ["-dc", "/proc/config.gz"]),
            termination == .exited(0)
        {
            return KernelConfiguration(source: "/proc/config.gz", text: text)
        }
        return nil
    }

    init(source: String, text: String) {
        self.source = source
        options = Set(text.split(separator: "\n").map(String.init))
    }
}
