@_spi(Generator) @testable import EBPF
import Foundation
import XCTest

/// The packet, LSM and pinning examples, run as a user runs them, against traffic and
/// opens the test makes itself; each ends on SIGINT once the test's work is done.
final class NetworkExampleTests: XCTestCase {
    /// Runs an example, calls `workload` once it printed a line containing `ready`, then
    /// interrupts it; its whole output, after it exits with status 0.
    func runUntilInterrupted(_ name: String, _ arguments: [String], ready: String, workload: () throws -> Void)
        throws -> String
    {
        let child = try ChildProcess(try builtExample(name).path, arguments + ["3600"], mergeOutput: true)
        defer {
            child.signal(SIGKILL)
            _ = child.wait()
        }
        guard child.waitForOutput(ready, timeout: childReadyTimeout) else {
            XCTFail("\(name) did not get ready: \(child.standardOutput)")
            return child.standardOutput
        }
        try workload()
        child.signal(SIGINT)
        XCTAssertEqual(child.wait(), .exited(0), child.standardOutput)
        return child.standardOutput
    }

    /// The lines after the header line `header`.
    func rows(_ output: String, after header: String) -> [String] {
        let lines = output.split(separator: "\n").map(String.init)
        return Array(lines.drop { $0 != header }.dropFirst())
    }

    func testXDPProtocolsCountsTheTestsDatagrams() throws {
        try requireKernel()
        let veth = try VethPair()
        defer { veth.close() }
        let sender = veth.peer.run { VethPair.udpSocket(address: veth.peerAddress) }
        let receiver = VethPair.udpSocket(address: veth.hostAddress, port: 40_020)
        defer { [sender, receiver].forEach { _ = close($0) } }
        let output = try runUntilInterrupted("xdp-protocols", [veth.hostInterface], ready: "Counting") {
            VethPair.send(20, [1, 2, 3], from: sender, to: veth.hostAddress, port: 40_020)
            // XDP runs as the host end receives, after the send returned: all 20 were counted
            // once all 20 are here.
            XCTAssertEqual(VethPair.receive(20, from: receiver).count, 20)
        }
        XCTAssertEqual(rows(output, after: "PROTOCOL  PACKETS"), ["UDP       20"], output)
    }

    func testTCPortBytesCountsTheBytesSentToAPort() throws {
        try requireKernel()
        let veth = try VethPair()
        defer { veth.close() }
        let sender = VethPair.udpSocket(address: veth.hostAddress)
        defer { close(sender) }
        let output = try runUntilInterrupted("tc-port-bytes", [veth.hostInterface], ready: "Counting") {
            VethPair.send(7, [UInt8](repeating: 0, count: 58), from: sender, to: veth.peerAddress, port: 40_021)
        }
        // Each datagram: 14 + 20 + 8 bytes of headers and 58 of payload.
        XCTAssertEqual(rows(output, after: "PORT   BYTES"), ["40021  700"], output)
    }

    func testHTTPFilterPrintsTheTestsRequestLine() throws {
        try requireKernel()
        let veth = try VethPair()
        defer { veth.close() }
        let port: UInt16 = 40_022
        let listener = veth.peer.run { () -> Int32 in
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            var address = ipv4Address(veth.peerAddress, port: port)
            _ = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            precondition(listen(fd, 4) == 0, "listen failed: \(errno)")
            return fd
        }
        defer { close(listener) }
        let output = try runUntilInterrupted("http-filter", [veth.hostInterface], ready: "Printing") {
            let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(client) }
            var address = ipv4Address(veth.peerAddress, port: port)
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(client, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            XCTAssertEqual(connected, 0, "connect: \(errno)")
            let request = Array("GET /ebpf-example?x=1 HTTP/1.1\r\nHost: test\r\n\r\n".utf8)
            XCTAssertEqual(request.withUnsafeBytes { send(client, $0.baseAddress, $0.count, 0) }, request.count)
            // The raw socket queued the segment as it went out, before send() returned; the
            // example prints what its socket holds before it ends. The peer received it.
            let peerSocket = veth.peer.run { accept(listener, nil, nil) }
            defer { close(peerSocket) }
            var buffer = [UInt8](repeating: 0, count: 256)
            XCTAssertEqual(
                buffer.withUnsafeMutableBytes { recv(peerSocket, $0.baseAddress, $0.count, 0) }, request.count)
        }
        XCTAssertEqual(
            rows(output, after: "Printing the HTTP requests on \(veth.hostInterface) for 3600 s (or until Ctrl-C)..."),
            ["GET /ebpf-example?x=1 HTTP/1.1"], output)
    }

    /// `cat` may not open the test's file while the policy runs, `head` may; a kernel that
    /// refuses tracing programs refuses the policy, and the example says why.
    func testLSMDenyOpenDeniesOneBinaryOneFile() throws {
        try requireKernel()
        let path = NSTemporaryDirectory() + "ebpf-lsm-example-\(getpid())"
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data("secret\n".utf8)))
        defer { unlink(path) }
        guard fentryLoads else {
            let (status, output) = try runToCompletion(
                try builtExample("lsm-deny-open").path, ["/usr/bin/cat", path, "1"])
            XCTAssertEqual(status, .exited(1), output)
            XCTAssertTrue(
                output.contains(
                    "cannot attach to LSM hook 'file_open': loading an LSM program on file_open that does nothing failed with EPERM"
                ), output)
            return
        }
        var results: [String] = []
        _ = try runUntilInterrupted("lsm-deny-open", ["/usr/bin/cat", path], ready: "Denying") {
            for tool in [["/usr/bin/cat", path], ["/usr/bin/head", "-n1", path]] {
                let (status, output) = try runToCompletion(tool[0], Array(tool.dropFirst()))
                // Only the message: coreutils names itself by its path, or (trixie's) by its name.
                let message = output.split(separator: ":").last.map { String($0) } ?? output
                results.append("\(status) \(message.trimmingCharacters(in: .whitespacesAndNewlines))")
            }
        }
        XCTAssertEqual(results, ["exited(1) Operation not permitted", "exited(0) secret"])
        // The policy ended with the example.
        XCTAssertEqual(try runToCompletion("/usr/bin/cat", [path]).output, "secret\n")
    }

    func testPinnedCounterIsReadByASecondProcess() throws {
        try requireKernel()
        let path = BPFFilesystem.standardMountPoint + "/ebpf-test-\(getpid())-getppid"
        defer { try? BPFFilesystem.unpin(path) }
        var read = ""
        _ = try runUntilInterrupted("pinned-counter", ["count", path], ready: "Counting") {
            for _ in 0..<33 { _ = getppid() }
            let (status, output) = try runToCompletion(try builtExample("pinned-counter").path, ["read", path])
            XCTAssertEqual(status, .exited(0), output)
            read = output
        }
        XCTAssertTrue(
            read.split(separator: "\n").contains(
                "\(String(getpid()).padding(toLength: 8, withPad: " ", startingAt: 0)) 33"), read)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path), "the example unpinned on its way out")
    }
}
