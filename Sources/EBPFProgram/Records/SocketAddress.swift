#if canImport(Glibc)
import Glibc
#endif

/// A socket address copied from the traced process (`struct sockaddr` and its family
/// variants), as a generated probe delivers `bind`'s, `connect`'s and `sendto`'s address.
public struct SocketAddress: Sendable, Hashable, CustomStringConvertible {
    /// The address family (`AF_INET` 2, `AF_INET6` 10, `AF_UNIX` 1, …).
    public var family: Int
    /// The IP address in its usual text form, for IPv4 and IPv6.
    public var ip: String?
    /// The port, for IPv4 and IPv6.
    public var port: UInt16?
    /// The path for `AF_UNIX` (`@name` for the abstract namespace).
    public var path: String?
    /// The bytes as copied (up to the length the caller passed the syscall).
    public var bytes: [UInt8]

    /// Decodes a `struct sockaddr` of `bytes.count` bytes; nil when fewer than 2 bytes
    /// (not even a family) were copied.
    public init?(bytes: [UInt8]) {
        guard bytes.count >= 2 else { return nil }
        self.bytes = bytes
        family = Int(UInt16(bytes[0]) | UInt16(bytes[1]) << 8)
        func bigEndianPort() -> UInt16? {
            bytes.count >= 4 ? UInt16(bytes[2]) << 8 | UInt16(bytes[3]) : nil
        }
        switch Int32(family) {
        case AF_INET where bytes.count >= 8:
            port = bigEndianPort()
            ip = bytes[4..<8].map(String.init).joined(separator: ".")
        case AF_INET6 where bytes.count >= 24:
            port = bigEndianPort()
            ip = Self.ipv6Text(Array(bytes[8..<24]))
        case AF_UNIX:
            let raw = Array(bytes.dropFirst(2))
            if raw.first == 0 {
                path = "@" + String(decoding: raw.dropFirst().prefix { $0 != 0 }, as: UTF8.self)
            } else {
                path = String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
        default:
            break
        }
    }

    /// `0.0.0.0:31337`, `[::1]:8080`, `/run/socket`, `(unnamed)` for a Unix socket without
    /// a path, or `family 17` for other families.
    public var description: String {
        if let ip, let port {
            return family == Int(AF_INET6) ? "[\(ip)]:\(port)" : "\(ip):\(port)"
        }
        if let path { return path.isEmpty ? "(unnamed)" : path }
        return "family \(family)"
    }

    private static func ipv6Text(_ address: [UInt8]) -> String {
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let ok = address.withUnsafeBytes { raw in
            inet_ntop(AF_INET6, raw.baseAddress, &text, socklen_t(text.count)) != nil
        }
        guard ok else { return address.map { String($0, radix: 16) }.joined(separator: ":") }
        return text.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }
}
