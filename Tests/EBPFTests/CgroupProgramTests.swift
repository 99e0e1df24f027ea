@_spi(Generator) @testable import EBPF
@testable import EBPFKernel
import Foundation
import XCTest

/// Cgroup programs on a cgroup the test makes: they cover the processes in it and no others.
final class CgroupProgramTests: XCTestCase {
    static let childRole = "EBPF_TEST_CONNECT_CHILD"
    static let childTest = "EBPFTests.CgroupProgramTests/testConnect4RefusesAConnectOnlyInTheCgroup"

    /// Refuses connects to REFUSED_PORT.
    static let refuseConnect = """
        int refuse_port(struct bpf_sock_addr *ctx) {
            return ctx->user_port == htons(REFUSED_PORT) ? 0 : 1;
        }
        """

    func testConnect4RefusesAConnectOnlyInTheCgroup() throws {
        if let role = ProcessInfo.processInfo.environment[Self.childRole] { Self.runAsChild(role) }
        try requireKernel()
        let (listener, port) = Self.listen()
        defer { close(listener) }
        let cgroup = TestCgroup(mount: try Cgroup.mountPoint(), name: "ebpf-connect-\(getpid())")
        try cgroup.make()
        defer { cgroup.remove() }
        let b = try EBPFWrapper(text: Self.refuseConnect, cflags: ["-DREFUSED_PORT=\(port)"])
        defer { b.close() }

        let attachment = try b.attach(function: "refuse_port", to: .cgroup(cgroup.relative, .connect4))
        XCTAssertEqual(attachment.point.description, "cgroup:connect4:\(cgroup.relative)")
        XCTAssertEqual(try connectInCgroup(cgroup, port: port), "CONNECT errno=\(EPERM)")
        XCTAssertEqual(Self.connect(port: port), 0, "the test, outside the cgroup, was refused")
        attachment.detach()
        XCTAssertEqual(try connectInCgroup(cgroup, port: port), "CONNECT errno=0")
    }

    /// bcc's `attach_func` flags: two programs attached with `BPF_F_ALLOW_MULTI` both run,
    /// an exclusive one cannot join them, and detaching one leaves the other.
    func testAttachModesFollowTheKernelsFlags() throws {
        try requireKernel()
        let (first, second) = (Self.listen(), Self.listen())
        defer { [first.socket, second.socket].forEach { _ = close($0) } }
        let cgroup = TestCgroup(mount: try Cgroup.mountPoint(), name: "ebpf-modes-\(getpid())")
        try cgroup.make()
        defer { cgroup.remove() }
        let one = try EBPFWrapper(text: Self.refuseConnect, cflags: ["-DREFUSED_PORT=\(first.port)"])
        let two = try EBPFWrapper(text: Self.refuseConnect, cflags: ["-DREFUSED_PORT=\(second.port)"])
        defer { [one, two].forEach { $0.close() } }
        let point = AttachPoint.cgroup(cgroup.relative, .connect4, mode: .multi)
        XCTAssertEqual(point.description, "cgroup:connect4:\(cgroup.relative)?mode=multi")
        let attachment = try one.attach(function: "refuse_port", to: point)
        try two.attach(function: "refuse_port", to: point)
        XCTAssertEqual(try connectInCgroup(cgroup, port: first.port), "CONNECT errno=\(EPERM)")
        XCTAssertEqual(try connectInCgroup(cgroup, port: second.port), "CONNECT errno=\(EPERM)")
        XCTAssertThrowsError(
            try one.attach(function: "refuse_port", to: .cgroup(cgroup.relative, .connect4, mode: .exclusive))
        ) { error in
            XCTAssertEqual((error as? EBPFError)?.code, .attachFailed, "\(error)")
            XCTAssertTrue("\(error)".contains("which the kernel would swap out for this one"), "\(error)")
        }
        attachment.detach()
        XCTAssertEqual(try connectInCgroup(cgroup, port: first.port), "CONNECT errno=0")
        XCTAssertEqual(try connectInCgroup(cgroup, port: second.port), "CONNECT errno=\(EPERM)")
    }

    /// A listening loopback socket and its port.
    static func listen() -> (socket: Int32, port: UInt16) {
        let listener = bindLoopbackSocket()
        precondition(Glibc.listen(listener, 8) == 0)
        var bound = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &bound) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        return (listener, UInt16(bigEndian: bound.sin_port))
    }

    func testACgroupThatIsNotThereIsRefusedBeforeAnythingLoads() throws {
        try requireKernel()
        let b = try EBPFWrapper(text: Self.refuseConnect, cflags: ["-DREFUSED_PORT=1"])
        defer { b.close() }
        let missing = "/ebpf-no-such-\(getpid())"
        XCTAssertThrowsError(try b.attach(function: "refuse_port", to: .cgroup(missing, .connect4))) {
            let error = $0 as! EBPFError
            XCTAssertEqual(error.code, .notFound, error.message)
            XCTAssertTrue(error.message.hasPrefix("no cgroup \"\(missing)\": "), error.message)
        }
        XCTAssertTrue(b.session.attachments.isEmpty)
        XCTAssertEqual(ProgramInfoCalls.programsOfThisProcess().filter { $0.name == "refuse_port" }, [])
    }

    /// What a child in `cgroup` printed after connecting to 127.0.0.1:`port`.
    func connectInCgroup(_ cgroup: TestCgroup, port: UInt16) throws -> String {
        let go = NSTemporaryDirectory() + "ebpf-connect-go-\(getpid())"
        unlink(go)
        defer { unlink(go) }
        let child = try ChildProcess(
            try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"), [Self.childTest],
            environment: [Self.childRole: "\(port):\(go)"], mergeOutput: true)
        defer {
            child.signal(SIGKILL)
            _ = child.wait()
        }
        XCTAssertTrue(child.waitForOutput("CHILD READY", timeout: childReadyTimeout), child.standardOutput)
        try cgroup.move(child.pid)
        XCTAssertTrue(FileManager.default.createFile(atPath: go, contents: nil))
        XCTAssertEqual(child.wait(), .exited(0), child.standardOutput)
        return child.standardOutput.split(separator: "\n").first { $0.hasPrefix("CONNECT ") }.map(String.init) ?? ""
    }

    /// The child's role: once moved (the go file exists), connect and say how it went.
    static func runAsChild(_ role: String) -> Never {
        let parts = role.split(separator: ":", maxSplits: 1)
        print("CHILD READY")
        fflush(nil)
        while access(String(parts[1]), F_OK) != 0 { usleep(1_000) }
        print("CONNECT errno=\(connect(port: UInt16(parts[0]) ?? 0))")
        fflush(nil)
        exit(0)
    }

    /// Connects a new TCP socket to 127.0.0.1:`port`: 0, or the errno.
    static func connect(port: UInt16) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = ipv4Address("127.0.0.1", port: port)
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        return rc == 0 ? 0 : errno
    }
}
