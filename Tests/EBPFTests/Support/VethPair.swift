import CTestSupport
import Foundation
import XCTest

/// A test's own network: a veth pair whose host end is in this process's network namespace
/// and whose peer end is in a namespace of its own, each end with one IPv4 address of a /30
/// used nowhere else, static neighbour entries (no ARP to wait for) and IPv6 off (no
/// router solicitations among the test's packets).
///
/// The peer's namespace belongs to a thread of the test (``peer``), which holds it: if the
/// test process dies, the namespace goes with it, and the pair with the namespace. Nothing
/// is named in /run/netns.
final class VethPair {
    let hostInterface: String
    let peerInterface: String
    let hostAddress: String
    let peerAddress: String
    /// A thread inside the peer's namespace: sockets it opens live there.
    let peer = CallingThread()
    /// The peer namespace's descriptor, this process's (the thread may end).
    private let namespace: Int32

    private static let counter = Locked(0)

    init() throws {
        let serial = Self.counter.withLock { value -> Int in
            value += 1
            return value
        }
        let pid = Int(getpid())
        hostInterface = "ebh\(pid)x\(serial)"
        peerInterface = "ebp\(pid)x\(serial)"
        // A /30 from the pid and serial: 10.231.0.0/16 has 16384 of them.
        let block = (pid * 8 + serial) % 16384
        let base = "10.231.\(block >> 6)."
        hostAddress = base + "\((block & 63) * 4 + 1)"
        peerAddress = base + "\((block & 63) * 4 + 2)"
        namespace = peer.run { cts_enter_new_network_namespace() }
        guard namespace >= 0 else {
            peer.stop()
            throw POSIXError(.EPERM, userInfo: [NSLocalizedDescriptionKey: "unshare(CLONE_NEWNET) failed"])
        }
        let namespacePath = "/proc/\(pid)/fd/\(namespace)"
        let hostMAC = "02:eb:00:00:00:01"
        let peerMAC = "02:eb:00:00:00:02"
        do {
            try Self.run(
                "ip", "link", "add", hostInterface, "address", hostMAC, "type", "veth", "peer", "name", peerInterface,
                "address", peerMAC, "netns", namespacePath)
            try Self.disableIPv6(hostInterface)
            try Self.run("ip", "address", "add", hostAddress + "/30", "dev", hostInterface)
            try Self.run(
                "ip", "neighbour", "replace", peerAddress, "lladdr", peerMAC, "dev", hostInterface, "nud", "permanent")
            try Self.run("ip", "link", "set", hostInterface, "up")
            let inside = ["nsenter", "--net=" + namespacePath]
            // /proc/sys/net is the namespace of the thread that opens it.
            let peerName = peerInterface
            try peer.run { Result { try Self.disableIPv6(peerName) } }.get()
            try Self.run(inside + ["ip", "address", "add", peerAddress + "/30", "dev", peerInterface])
            try Self.run(
                inside + [
                    "ip", "neighbour", "replace", hostAddress, "lladdr", hostMAC, "dev", peerInterface, "nud",
                    "permanent",
                ])
            try Self.run(inside + ["ip", "link", "set", peerInterface, "up"])
            try Self.run(inside + ["ip", "link", "set", "lo", "up"])
        } catch {
            close()
            throw error
        }
    }

    /// Deletes the pair and lets the namespace go. Idempotent.
    func close() {
        _ = try? runToCompletion("/usr/sbin/ip", ["link", "delete", hostInterface])
        peer.stop()
        Glibc.close(namespace)
    }

    /// A UDP socket bound to `address`:`port` (0: any port) in the calling thread's namespace,
    /// receiving with a timeout of `eventTimeout`.
    static func udpSocket(address: String, port: UInt16 = 0) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        precondition(fd >= 0, "socket() failed: \(errno)")
        var timeout = timeval(tv_sec: Int(eventTimeout.components.seconds), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var bound = ipv4Address(address, port: port)
        let rc = withUnsafePointer(to: &bound) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        precondition(rc == 0, "bind(\(address):\(port)) failed: \(errno)")
        return fd
    }

    /// Sends `count` datagrams of `payload` from `socket` to `address`:`port`.
    static func send(_ count: Int, _ payload: [UInt8], from socket: Int32, to address: String, port: UInt16) {
        var destination = ipv4Address(address, port: port)
        for _ in 0..<count {
            let sent = withUnsafePointer(to: &destination) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { target in
                    payload.withUnsafeBytes {
                        sendto(socket, $0.baseAddress, $0.count, 0, target, socklen_t(MemoryLayout<sockaddr_in>.size))
                    }
                }
            }
            precondition(sent == payload.count, "sendto(\(address):\(port)) failed: \(errno)")
        }
    }

    /// Receives `count` datagrams from `socket` (each waits up to its timeout); the payloads.
    static func receive(_ count: Int, from socket: Int32) -> [[UInt8]] {
        var received: [[UInt8]] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        for _ in 0..<count {
            let length = buffer.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
            guard length >= 0 else { break }
            received.append(Array(buffer[..<length]))
        }
        return received
    }

    /// How many datagrams `socket` holds now, taking them.
    static func drain(_ socket: Int32) -> Int {
        var buffer = [UInt8](repeating: 0, count: 65536)
        var count = 0
        while buffer.withUnsafeMutableBytes({ recv(socket, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }) >= 0 {
            count += 1
        }
        return count
    }

    /// Turns IPv6 off on `interface` of the calling thread's network namespace (no sysctl
    /// binary: Debian 13's minimal root has none).
    private static func disableIPv6(_ interface: String) throws {
        try "1\n".write(toFile: "/proc/sys/net/ipv6/conf/\(interface)/disable_ipv6", atomically: false, encoding: .utf8)
    }

    private static func run(_ arguments: String...) throws { try run(arguments) }

    private static func run(_ arguments: [String]) throws {
        let executable = ["/usr/sbin/", "/usr/bin/", "/sbin/", "/bin/"].map { $0 + arguments[0] }.first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
        guard let executable else { throw POSIXError(.ENOENT, userInfo: [NSLocalizedDescriptionKey: arguments[0]]) }
        let (status, output) = try runToCompletion(executable, Array(arguments.dropFirst()))
        guard status == .exited(0) else {
            throw POSIXError(
                .EIO, userInfo: [NSLocalizedDescriptionKey: "\(arguments.joined(separator: " ")): \(status) \(output)"])
        }
    }
}
