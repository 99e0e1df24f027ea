@_spi(Generator) @testable import EBPF
import CTestSupport
import Foundation
import XCTest
@testable import EBPFKernel

/// What a traced process or a planted file can do to a tracer running as root.
final class HostileInputTests: XCTestCase {
    /// A uprobe's binary is resolved, parsed for the symbol, then attached by the kernel.
    /// A symlink swapped in between must not move the probe (an int3 at libc's offset) into
    /// the file swapped in: the library attaches the file it resolved.
    func testUprobeAttachesTheFileItResolvedWhenThePathIsSwapped() throws {
        try requireKernel()
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let libc = try XCTUnwrap(LibBCC.whichLibrary("c", pid: -1))
        let decoy = directory + "/decoy.so"
        try FileManager.default.copyItem(atPath: libc, toPath: decoy)
        let link = directory + "/libc-link.so"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: libc)

        let b = try EBPFWrapper(
            text: """
                BPF_ARRAY(hits, u64, 1);
                int on_call(struct pt_regs *ctx) {
                    if ((bpf_get_current_pid_tgid() >> 32) != TARGET_PID) return 0;
                    hits.increment(0);
                    return 0;
                }
                """, cflags: ["-DTARGET_PID=\(ThisProcess.pid)"])
        defer { b.close() }
        let attachment = try b.session.makeUserProbeAttachment(
            module: b.session.nativeModule(), sites: b.session.userFunctionSites(.uprobe("getppid", in: link)),
            fnName: "on_call",
            beforeAttach: {
                XCTAssertEqual(unlink(link), 0)
                XCTAssertEqual(symlink(decoy, link), 0)
            })
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: link), decoy, "swapped")
        defer { attachment.detach() }
        XCTAssertEqual(attachment.point, .uprobe("getppid", in: link))
        for _ in 0..<5 { _ = getppid() }
        let hits = try b.table("hits", key: UInt32.self, value: UInt64.self)
        XCTAssertEqual(try hits[0], 5, "the probe is in the libc this process runs, not in the file swapped in")
    }

    /// libbcc writes a uprobe's path unescaped into `uprobe_events` on kernels without the
    /// uprobe PMU, where a space starts the next field: such paths are refused up front.
    func testUprobePathWithWhitespaceIsRefused() throws {
        try requireKernel()
        let b = try EBPFWrapper(text: "int f(struct pt_regs *ctx) { return 0; }")
        defer { b.close() }
        for path in ["/tmp/a b/libc.so.6", "/tmp/libc.so.6 arg=1"] {
            XCTAssertThrowsError(try b.attach(function: "f", to: .uprobe("getpid", in: path))) { error in
                let error = error as! EBPFError
                XCTAssertEqual(error.code, .invalidArgument, "\(path): \(error)")
                XCTAssertTrue(error.message.contains("a space"), error.message)
            }
        }
        XCTAssertTrue(b.session.attachments.isEmpty)
    }

    /// A traced binary whose `.gnu_debuglink` names a FIFO planted beside it: resolving its
    /// symbols must not open the FIFO, which blocks until a writer comes and would hang the
    /// tracer (with the caches' lock held, every other lookup too).
    func testSymbolsOfABinaryWithAPlantedDebuglinkFIFODoNotBlock() throws {
        try requireKernel()
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let binary = directory + "/sleeper"
        try FileManager.default.copyItem(atPath: "/usr/bin/sleep", toPath: binary)
        let debugFile = directory + "/sleeper.debug"
        XCTAssertTrue(FileManager.default.createFile(atPath: debugFile, contents: Data("debug".utf8)))
        // Debian's binaries already name their debug file by build id: replace the link
        // (objcopy only warns, with status 0, when one exists).
        for arguments in [["--remove-section=.gnu_debuglink", binary], ["--add-gnu-debuglink=\(debugFile)", binary]] {
            let (termination, output) = try runToCompletion("/usr/bin/objcopy", arguments)
            XCTAssertEqual(termination, .exited(0), output)
            XCTAssertFalse(output.contains("objcopy:"), output)
        }
        XCTAssertEqual(unlink(debugFile), 0)
        XCTAssertEqual(mkfifo(debugFile, 0o600), 0)

        let child = try ChildProcess(binary, ["60"])
        defer {
            child.signal(SIGKILL)
            child.wait()
        }
        let text = try XCTUnwrap(Self.mapping(of: binary, in: child.pid, executable: true), "sleeper's code")
        let b = try EBPFWrapper()
        defer { b.close() }
        let done = DispatchSemaphore(value: 0)
        Thread {
            _ = b.symbols.sym(text + 0x10, pid: child.pid)
            done.signal()
        }.start()
        let returned = done.wait(timeout: .now() + 30) == .success
        if !returned {
            // Lets the blocked open(2) return, so the thread ends.
            close(open(debugFile, O_WRONLY | O_NONBLOCK))
            _ = done.wait(timeout: .now() + 30)
        }
        XCTAssertTrue(returned, "sym() blocked on the FIFO the binary's .gnu_debuglink names")
    }

    /// A pid the kernel hands to a new process resolves through that process's mappings, not
    /// the cache of the dead process that had the pid before (its libc was elsewhere).
    func testAReusedPidGetsTheNewProcesssSymbols() throws {
        try requireKernel()
        let b = try EBPFWrapper()
        defer { b.close() }
        let libc = try XCTUnwrap(LibBCC.whichLibrary("c", pid: -1))
        let getpidAddress = UInt64(
            UInt(bitPattern: try XCTUnwrap(dlsym(UnsafeMutableRawPointer(bitPattern: 0), "getpid"))))
        let offset = getpidAddress - (try XCTUnwrap(Self.mapping(of: libc, in: getpid(), executable: false)))
        let expected = b.symbols.sym(getpidAddress, pid: getpid())
        XCTAssertNotEqual(expected, "[unknown]")

        let first = try ChildProcess("/usr/bin/sleep", ["60"])
        let pid = first.pid
        let firstBase = try XCTUnwrap(Self.mapping(of: libc, in: pid, executable: false), "libc in the first sleep")
        XCTAssertEqual(b.symbols.sym(firstBase + offset, pid: pid), expected)
        first.signal(SIGKILL)
        XCTAssertEqual(first.wait(), .signaled(SIGKILL))

        // The same pid on purpose (clone3's set_tid): no race with what else the machine starts.
        let words: [String] = ["/usr/bin/sleep", "60"]
        let argv = words.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let second = cts_spawn_with_pid(pid, "/usr/bin/sleep", argv)
        XCTAssertEqual(second, pid, "clone3 with set_tid \(pid): errno \(errno)")
        guard second == pid else { return }
        defer {
            kill(second, SIGKILL)
            var status: Int32 = 0
            waitpid(second, &status, 0)
        }
        // Until it has exec'd sleep the child is a copy of this process, with this libc: wait
        // for sleep's name, then for the libc the loader maps for sleep.
        XCTAssertTrue(
            waitUntil {
                (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)) == "sleep\n"
                    && Self.mapping(of: libc, in: pid, executable: false) != nil
            }, "sleep and its libc in the second process")
        let secondBase = try XCTUnwrap(Self.mapping(of: libc, in: pid, executable: false), "libc in the second sleep")
        XCTAssertNotEqual(secondBase, firstBase, "address space layout randomization")
        XCTAssertEqual(b.symbols.sym(secondBase + offset, pid: pid), expected, "the new process's mappings")
    }

    /// Symbol caches are bounded: the least recently used process's goes first, and an
    /// exited process's is dropped when its pid is next looked up.
    func testSymbolCachesKeepTheMostRecentlyUsedProcesses() throws {
        try requireKernel()
        let resolver = SymbolResolver(processCacheLimit: 3)
        defer { resolver.close() }
        let children = try (0..<4).map { _ in try ChildProcess("/usr/bin/sleep", ["60"]) }
        defer {
            for child in children {
                child.signal(SIGKILL)
                child.wait()
            }
        }
        let pids = children.map(\.pid)
        for pid in pids.prefix(3) { XCTAssertEqual(resolver.withCache(pid: pid) { _ in true }, true) }
        XCTAssertEqual(resolver.withCache(pid: pids[0]) { _ in true }, true, "the first used again")
        XCTAssertEqual(resolver.withCache(pid: pids[3]) { _ in true }, true)
        XCTAssertEqual(resolver.cachedProcesses, [pids[2], pids[0], pids[3]], "the second, least recently used, went")

        children[2].signal(SIGKILL)
        XCTAssertEqual(children[2].wait(), .signaled(SIGKILL))
        XCTAssertTrue(resolver.withCache(pid: pids[2]) { _ in true } == nil, "no process has the pid now")
        XCTAssertEqual(resolver.cachedProcesses, [pids[0], pids[3]])
    }

    static func temporaryDirectory() throws -> String {
        let directory = "/tmp/ebpf-hostile-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        return directory
    }

    /// The lowest address `path` is mapped at in `pid` (its executable mapping when asked),
    /// waiting up to 10 s for the loader to map it.
    static func mapping(of path: String, in pid: Int32, executable: Bool) -> UInt64? {
        // The maps show the file's real path (/lib is a link to /usr/lib on Debian).
        let resolved =
            realpath(path, nil).map { pointer in
                defer { free(pointer) }
                return String(cString: pointer)
            } ?? path
        var found: UInt64?
        _ = pollUntil(timeout: eventTimeout) {
            let lines = (KernelFiles.read("/proc/\(pid)/maps") ?? "").split(separator: "\n")
            found = lines.compactMap { line -> UInt64? in
                let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                guard fields.count >= 6, fields[5] == path || fields[5] == resolved,
                    !executable || fields[1].contains("x")
                else { return nil }
                return UInt64(fields[0].split(separator: "-")[0], radix: 16)
            }.min()
            return found != nil
        }
        return found
    }

}
