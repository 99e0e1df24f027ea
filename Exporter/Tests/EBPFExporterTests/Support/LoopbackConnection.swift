import Foundation

/// A TCP connection to a loopback port, driven byte by byte: what a misbehaving client does.
final class LoopbackConnection: Sendable {
    let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw PrometheusError(message: "socket: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            let error = errno
            close(fd)
            throw PrometheusError(message: "connect to 127.0.0.1:\(port): errno \(error)")
        }
        // A send the peer never reads fails after a minute rather than hanging the test.
        var limit = timeval(tv_sec: 60, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    /// Sends all of `bytes`; false when the peer has closed.
    @discardableResult
    func send(_ bytes: some Collection<UInt8>) -> Bool {
        let array = Array(bytes)
        var sent = 0
        while sent < array.count {
            let n = array[sent...].withUnsafeBytes {
                Foundation.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            guard n > 0 else { return false }
            sent += n
        }
        return true
    }

    /// Everything the peer sends until it closes, or until `timeout` passes with nothing
    /// read; nil if it did not close by then.
    func readUntilClosed(timeout: Duration) -> [UInt8]? {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        let milliseconds = Int32(timeout.components.seconds * 1000)
        while true {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, milliseconds) == 1 else { return nil }
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { return received }
            received += buffer[..<n]
        }
    }

    /// What the peer sends until `marker` has arrived, it closes, or `timeout` passes with
    /// nothing read.
    func read(until marker: [UInt8], timeout: Duration) -> [UInt8] {
        var received: [UInt8] = []
        var byte: UInt8 = 0
        let milliseconds = Int32(timeout.components.seconds * 1000)
        while !received.suffix(marker.count).elementsEqual(marker) {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, milliseconds) == 1, recv(fd, &byte, 1, 0) == 1 else { break }
            received.append(byte)
        }
        return received
    }

    /// `GET path` with `Connection: close`: the whole response, as text.
    static func get(_ path: String, port: Int, timeout: Duration = .seconds(60)) throws -> String {
        let connection = try LoopbackConnection(port: port)
        connection.send(Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8))
        guard let response = connection.readUntilClosed(timeout: timeout) else {
            throw PrometheusError(message: "GET \(path): no complete response in \(timeout)")
        }
        return String(decoding: response, as: UTF8.self)
    }
}
