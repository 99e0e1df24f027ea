@testable import EBPF
import Foundation
import XCTest

/// What a traced process or a planted file can do to a tracer running as root.
final class HostileInputTests: XCTestCase {
    /// A uprobe's binary is resolved, parsed for the symbol, then attached by the kernel.
    /// A symlink swapped in between must not move the probe (an int3 at libc's offset) into
    /// the file swapped in: the library attaches the file it resolved.
    func testUprobeAttachesTheFileItResolvedWhenThePathIsSwapped() throws {
        try requireKernel()
        let directory = "/tmp/ebpf-swap-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
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
        let attachment = try b.attachUserProbe(
            name: link, sym: "getppid", fnName: "on_call", pid: nil, isReturn: false,
            beforeAttach: {
                XCTAssertEqual(unlink(link), 0)
                XCTAssertEqual(symlink(decoy, link), 0)
            })
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: link), decoy, "swapped")
        XCTAssertTrue(attachment.target.hasSuffix(":getppid"), attachment.target)
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
            XCTAssertThrowsError(try b.attachUprobe(name: path, sym: "getpid", fnName: "f")) { error in
                let error = error as! EBPFError
                XCTAssertEqual(error.code, .invalidArgument, "\(path): \(error)")
                XCTAssertTrue(error.message.contains("a space"), error.message)
            }
        }
        XCTAssertTrue(b.attachments.isEmpty)
    }
}
