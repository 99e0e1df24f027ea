@_spi(Generator) @testable import EBPF
import Foundation
import XCTest
@testable import EBPFKernel

/// fentry and fexit (bcc's `KFUNC_PROBE`/`KRETFUNC_PROBE`) on whichever kernel runs the
/// suite: the 6.1 guest loads tracing programs, and there a thread's opens are counted at
/// entry and their descriptors seen at exit; the host refuses them, and there the test
/// requires the exact error and nothing attached.
final class KernelFunctionTests: XCTestCase {
    static let program = """
        BPF_HASH(entries, u32, u64);
        BPF_HASH(returns, u32, long);
        KFUNC_PROBE(do_sys_openat2, int dfd, const char *filename, void *how) {
            u32 tid = bpf_get_current_pid_tgid();
            if (tid != TID) return 0;
            entries.increment(tid);
            return 0;
        }
        KRETFUNC_PROBE(do_sys_openat2, int dfd, const char *filename, void *how, long ret) {
            u32 tid = bpf_get_current_pid_tgid();
            if (tid != TID) return 0;
            returns.update(&tid, &ret);
            return 0;
        }
        """

    /// Runs `work` on a thread of its own once `attach` (given that thread's id) returned:
    /// the thread opens nothing else, while attaching opens files (headers, format files).
    func onOwnThread(attach: (Int32) throws -> Void, work: @escaping @Sendable () -> Void) throws {
        let tid = Locked<Int32>(0)
        let (ready, go, done) = (DispatchSemaphore(value: 0), DispatchSemaphore(value: 0), DispatchSemaphore(value: 0))
        Thread {
            tid.withLock { $0 = ThisProcess.tid }
            ready.signal()
            go.wait()
            work()
            done.signal()
        }.start()
        ready.wait()
        defer {
            go.signal()
            done.wait()
        }
        try attach(tid.withLock { $0 })
    }

    func testEntryCountsAndExitReturnValuesOfOpens() throws {
        try requireKernel()
        var wrapper: EBPFWrapper<CProgram>?
        var thread: Int32 = 0
        try onOwnThread { tid in
            thread = tid
            let b = try EBPFWrapper(text: Self.program, cflags: ["-DTID=\(tid)"])
            wrapper = b
            guard fentryLoads else { return }
            let entry = try b.attachKernelFunction("do_sys_openat2")
            let exit = try b.attachKernelFunctionExit("do_sys_openat2")
            XCTAssertEqual([entry.point, exit.point], [.fentry("do_sys_openat2"), .fexit("do_sys_openat2")])
            // From libbcc 0.28 the macros put the module into the name.
            let module = Self.macrosNameTheModule ? "vmlinux__" : ""
            XCTAssertEqual(
                [entry.functionName, exit.functionName],
                ["kfunc__\(module)do_sys_openat2", "kretfunc__\(module)do_sys_openat2"])
        } work: {
            var opened: [Int32] = []
            for _ in 0..<3 { opened.append(open("/dev/null", O_RDONLY | O_CLOEXEC)) }
            opened.forEach { close($0) }
            _ = open("/nonexistent/ebpf-fexit", O_RDONLY)
        }
        let b = try XCTUnwrap(wrapper)
        defer { b.close() }
        guard fentryLoads else {
            XCTAssertThrowsError(try KernelFeatures.probeFentry()) { error in
                let error = error as! EBPFError
                XCTAssertEqual(error.code, .notSupported)
                XCTAssertTrue(
                    error.message.hasPrefix(
                        "this kernel refuses tracing programs (fentry, fexit): loading an fentry program on do_sys_openat2 that does nothing failed with EPERM"
                    ), error.message)
            }
            XCTAssertThrowsError(try b.attachKernelFunction("do_sys_openat2")) { error in
                let error = error as! EBPFError
                XCTAssertEqual(error.code, .notSupported)
                XCTAssertTrue(
                    error.message.hasPrefix(
                        "cannot attach fentry to 'do_sys_openat2': this kernel refuses tracing programs (loading an fentry program on do_sys_openat2 that does nothing failed with EPERM (Operation not permitted) while a kprobe-type program loads"
                    ), error.message)
                XCTAssertTrue(
                    error.message.hasSuffix("attach a kprobe (attachKprobe) or a tracepoint instead"), error.message)
            }
            XCTAssertThrowsError(try b.attachKernelFunctionExit("do_sys_openat2")) { error in
                XCTAssertEqual((error as? EBPFError)?.code, .notSupported)
            }
            XCTAssertTrue(b.session.attachments.isEmpty, "nothing half attached")
            return
        }
        XCTAssertEqual(
            try b.table("entries", key: UInt32.self, value: UInt64.self)[UInt32(thread)], 4,
            "three opens and a failed one")
        XCTAssertEqual(
            try b.table("returns", key: UInt32.self, value: Int64.self)[UInt32(thread)], -Int64(ENOENT),
            "the last, failed open's negative errno")
        let attached = b.session.attachments
        XCTAssertEqual(attached.map(\.point), [.fentry("do_sys_openat2"), .fexit("do_sys_openat2")])
        attached.forEach { $0.detach() }
        XCTAssertEqual(attached.map(\.isAttached), [false, false])
        XCTAssertTrue(b.session.attachments.isEmpty)
    }

    /// Whether this libbcc's `KFUNC_PROBE(f)` defines `kfunc__vmlinux__f` (0.28 on) rather
    /// than `kfunc__f`.
    static var macrosNameTheModule: Bool {
        guard let release = try? LibBCC.compilerLibrary.get().release else { return false }
        return release >= LibBCCRelease(0, 28)
    }

    /// Functions named in either of bcc's schemes attach with any libbcc, whichever its own
    /// macros write: the entry as `kfunc__vmlinux__<f>` (0.28 on), the exit as
    /// `kretfunc__<f>` (before). Both count the thread's four opens.
    func testFunctionsNamedInEitherSchemeAttach() throws {
        try requireKernel()
        let text = """
            BPF_HASH(entries, u32, u64);
            BPF_HASH(exits, u32, u64);
            int kfunc__vmlinux__do_sys_openat2(unsigned long long *ctx) {
                u32 tid = bpf_get_current_pid_tgid();
                if (tid == TID) entries.increment(tid);
                return 0;
            }
            int kretfunc__do_sys_openat2(unsigned long long *ctx) {
                u32 tid = bpf_get_current_pid_tgid();
                if (tid == TID) exits.increment(tid);
                return 0;
            }
            """
        var wrapper: EBPFWrapper<CProgram>?
        var thread: Int32 = 0
        try onOwnThread { tid in
            thread = tid
            let b = try EBPFWrapper(text: text, cflags: ["-DTID=\(tid)"])
            wrapper = b
            guard fentryLoads else { return }
            let entry = try b.attachKernelFunction("do_sys_openat2")
            let exit = try b.attachKernelFunctionExit("do_sys_openat2")
            XCTAssertEqual(
                [entry.functionName, exit.functionName],
                ["kfunc__vmlinux__do_sys_openat2", "kretfunc__do_sys_openat2"])
        } work: {
            for _ in 0..<3 { close(open("/dev/null", O_RDONLY | O_CLOEXEC)) }
            _ = open("/nonexistent/ebpf-fentry-names", O_RDONLY)
        }
        let b = try XCTUnwrap(wrapper)
        defer { b.close() }
        guard fentryLoads else {
            XCTAssertThrowsError(try b.attachKernelFunction("do_sys_openat2")) { error in
                XCTAssertEqual((error as? EBPFError)?.code, .notSupported)
            }
            XCTAssertTrue(b.session.attachments.isEmpty, "nothing half attached")
            return
        }
        XCTAssertEqual(try b.table("entries", key: UInt32.self, value: UInt64.self)[UInt32(thread)], 4)
        XCTAssertEqual(try b.table("exits", key: UInt32.self, value: UInt64.self)[UInt32(thread)], 4)
    }

    /// No C: `.fentry` delivers do_sys_openat2's parameters by name (the path as a string),
    /// `.fexit` also its return value as `ret`; and `ret` aggregated in the kernel.
    func testClosureProbesAtEntryAndExitWithTheReturnValue() throws {
        try requireKernel()
        let b = try EBPFWrapper(cache: nil)
        defer { b.close() }
        let entries = Collected<ProbeEvent>()
        let exits = Collected<ProbeEvent>()
        guard fentryLoads else {
            XCTAssertThrowsError(try b.attach(.fentry("do_sys_openat2")) { entries.append($0) }) { error in
                let error = error as! EBPFError
                XCTAssertEqual(error.code, .notSupported)
                XCTAssertTrue(error.message.contains("this kernel refuses tracing programs"), error.message)
            }
            XCTAssertTrue(b.session.probes.isEmpty && b.session.attachments.isEmpty, "nothing half attached")
            return
        }
        let path = "/tmp/ebpf-fentry-\(UUID().uuidString)"
        let created = Locked<Int32>(-1)
        var results: Aggregation?
        try onOwnThread { tid in
            let thread = ProbeFilter(processID: ThisProcess.pid, threadID: tid)
            let probes = try b.attach([.fentry("do_sys_openat2"), .fexit("do_sys_openat2")], filter: thread) {
                ($0.eventName.hasPrefix("fexit") ? exits : entries).append($0)
            }
            XCTAssertEqual(probes.map(\.eventName), ["fentry:do_sys_openat2", "fexit:do_sys_openat2"])
            results = try b.aggregate(.fexit("do_sys_openat2"), .statistics(of: "ret"), filter: thread)
        } work: {
            let fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0o600)
            created.withLock { $0 = fd }
            close(fd)
            unlink(path)
            _ = open("/nonexistent/ebpf-fentry", O_RDONLY)
        }
        let fd = created.withLock { $0 }
        XCTAssertGreaterThanOrEqual(fd, 0)
        XCTAssertTrue(waitUntil { entries.count >= 2 && exits.count >= 2 })
        XCTAssertEqual(entries.inFiringOrder.map { $0.filename?.stringValue }, [path, "/nonexistent/ebpf-fentry"])
        XCTAssertEqual(entries.inFiringOrder.map { $0.dfd?.intValue }, [Int(AT_FDCWD), Int(AT_FDCWD)])
        XCTAssertEqual(exits.inFiringOrder.map { $0.ret?.intValue }, [Int(fd), -Int(ENOENT)])
        XCTAssertEqual(exits.inFiringOrder.map { $0.filename?.stringValue }, [path, "/nonexistent/ebpf-fentry"])
        XCTAssertEqual(
            try XCTUnwrap(results).snapshot(),
            [.init(key: nil, count: 2, sum: Int64(fd) - Int64(ENOENT), min: -Int64(ENOENT), max: Int64(fd))])
    }

    func testAFunctionTheKernelLacksIsNamed() throws {
        try requireKernel()
        let b = try EBPFWrapper(
            text: "KFUNC_PROBE(no_such_kernel_function_here, int unused) { return 0; }", cflags: ["-DTID=0"])
        defer { b.close() }
        XCTAssertThrowsError(try b.attachKernelFunction("no_such_kernel_function_here")) { error in
            let error = error as! EBPFError
            XCTAssertEqual(error.code, fentryLoads ? .notFound : .notSupported, error.message)
        }
        XCTAssertThrowsError(try b.attachKernelFunction("bad name")) { error in
            XCTAssertEqual((error as? EBPFError)?.code, .invalidArgument)
        }
    }
}

extension EBPFWrapper where Program == CProgram {
    /// The program's `KFUNC_PROBE(function)` attached at the function's entry by bcc's
    /// older name, `kfunc__function`, which finds `kfunc__vmlinux__function` from 0.28 too.
    fileprivate func attachKernelFunction(_ function: String) throws -> Attachment {
        try attach(function: "kfunc__" + function, to: .fentry(function))
    }

    fileprivate func attachKernelFunctionExit(_ function: String) throws -> Attachment {
        try attach(function: "kretfunc__" + function, to: .fexit(function))
    }
}
