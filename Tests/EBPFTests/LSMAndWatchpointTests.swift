@_spi(Generator) @testable import EBPF
import CTestSupport
import Foundation
import XCTest

/// LSM hooks and hardware watchpoints, driven by the test's own opens and stores.
final class LSMAndWatchpointTests: XCTestCase {
    /// Denies the test process's opens of the file with inode TARGET_INODE.
    static let denyOpen = """
        #include <linux/fs.h>
        #include <uapi/asm-generic/errno-base.h>
        LSM_PROBE(file_open, struct file *file) {
            if ((bpf_get_current_pid_tgid() >> 32) != TARGET_PID) return 0;
            if (file->f_inode->i_ino != TARGET_INODE) return 0;
            return -EPERM;
        }
        """

    /// On a kernel that runs LSM programs (the guests, booted with `lsm=…,bpf`), the test's
    /// open of its file fails with EPERM while the program is attached and succeeds again
    /// after; on one that refuses tracing programs (this host), the attach fails with the
    /// exact reason and leaves nothing.
    func testAnLSMProgramDeniesTheTestsOpenUntilDetached() throws {
        try requireKernel()
        let path = NSTemporaryDirectory() + "ebpf-lsm-\(getpid())"
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data("x".utf8)))
        defer { unlink(path) }
        var status = stat()
        XCTAssertEqual(stat(path, &status), 0)
        let b = try EBPFWrapper(
            text: Self.denyOpen, cflags: ["-DTARGET_PID=\(getpid())", "-DTARGET_INODE=\(status.st_ino)"])
        defer { b.close() }
        guard fentryLoads else {
            XCTAssertThrowsError(try b.attach(function: "lsm__file_open", to: .lsm("file_open"))) { error in
                let error = error as! EBPFError
                XCTAssertEqual(error.code, .notSupported)
                XCTAssertEqual(
                    error.message,
                    "cannot attach to LSM hook 'file_open': loading an LSM program on file_open that does nothing failed with EPERM (Operation not permitted)"
                )
            }
            XCTAssertTrue(b.session.attachments.isEmpty)
            return
        }
        XCTAssertTrue(try String(contentsOfFile: "/sys/kernel/security/lsm", encoding: .utf8).contains("bpf"))
        let attachment = try b.attach(function: "lsm__file_open", to: .lsm("file_open"))
        XCTAssertEqual(attachment.point.description, "lsm:file_open")
        XCTAssertEqual(open(path, O_RDONLY | O_CLOEXEC), -1)
        XCTAssertEqual(errno, EPERM)
        let other = open("/dev/null", O_RDONLY | O_CLOEXEC)
        XCTAssertGreaterThanOrEqual(other, 0, "another file was denied")
        close(other)
        attachment.detach()
        let again = open(path, O_RDONLY | O_CLOEXEC)
        XCTAssertGreaterThanOrEqual(again, 0, "still denied after detach: errno \(errno)")
        close(again)
    }

    func testAnLSMHookTheKernelLacksIsRefusedByName() throws {
        try requireKernel()
        let b = try EBPFWrapper(text: "int lsm__no_such_hook(void *ctx) { return 0; }")
        defer { b.close() }
        XCTAssertThrowsError(try b.attach(function: "lsm__no_such_hook", to: .lsm("no_such_hook"))) { error in
            let error = error as! EBPFError
            XCTAssertEqual(error.code, fentryLoads ? .notFound : .notSupported, error.message)
            if fentryLoads {
                XCTAssertTrue(error.message.hasPrefix("the kernel has no LSM hook 'no_such_hook'"), error.message)
            }
        }
    }

    /// A write watchpoint on a word of the test's, following the test's thread: each of the
    /// test's stores runs the program once.
    func testAWriteWatchpointCountsEachStoreOfTheTestsThread() throws {
        try requireKernel()
        let word = UnsafeMutablePointer<UInt64>.allocate(capacity: 1)
        defer { word.deallocate() }
        word.initialize(to: 0)
        let b = try EBPFWrapper(
            text: """
                #include <uapi/linux/bpf_perf_event.h>
                BPF_ARRAY(hits, u64, 1);
                int on_write(struct bpf_perf_event_data *ctx) {
                    hits.increment(0);
                    return 0;
                }
                """)
        defer { b.close() }
        let address = UInt64(UInt(bitPattern: word))
        let point = AttachPoint.watchpoint(
            Watchpoint(address: address, length: 8, access: .write), pid: ThisProcess.tid)
        XCTAssertEqual(point.description, "watchpoint:0x\(String(address, radix: 16)):8:w?pid=\(ThisProcess.tid)")
        let attachment = try b.attach(function: "on_write", to: point)
        cts_store_repeatedly(word, 7, 25)
        _ = word.pointee  // A read: not a write.
        let hits = try b.table("hits", key: UInt32.self, value: UInt64.self)
        XCTAssertEqual(try hits.value(forKey: 0), 25)
        XCTAssertEqual(word.pointee, 7 + 24)
        attachment.detach()
        cts_store_repeatedly(word, 0, 5)
        XCTAssertEqual(try hits.value(forKey: 0), 25, "a detached watchpoint still counted")
    }
}
