import EBPF
import FuzzSupport

#if canImport(Glibc)
import Glibc
#endif

/// libFuzzer entry: the bytes of a `struct sockaddr` as a probe copies them. Decoding must
/// return nil (fewer than 2 bytes) or an address whose text converts back to its bytes: the
/// IP through inet_pton, the port, a Unix path without its terminating NUL.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSocketAddress(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let address = SocketAddress(bytes: bytes) else {
        precondition(bytes.count < 2, "nil for \(bytes.count) bytes")
        return 0
    }
    precondition(address.family == Int(bytes[0]) | Int(bytes[1]) << 8, "family")
    precondition(!address.description.isEmpty, "empty description")
    if let ip = address.ip, let port = address.port {
        precondition(port == UInt16(bytes[2]) << 8 | UInt16(bytes[3]), "port")
        let range = address.family == Int(AF_INET) ? 4..<8 : 8..<24
        var parsed = [UInt8](repeating: 0, count: range.count)
        precondition(inet_pton(Int32(address.family), ip, &parsed) == 1, "inet_pton rejects \(ip)")
        precondition(parsed == Array(bytes[range]), "\(ip) is not the bytes \(bytes[range])")
    }
    if let path = address.path {
        precondition(address.family == Int(AF_UNIX), "a path for family \(address.family)")
        precondition(!path.unicodeScalars.contains("\0"), "a NUL in the path")
    }
    return 0
}

/// This target's `main` (see ``runFuzzer(_:_:_:)``).
@_cdecl("ebpf_fuzz_socket_address_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runFuzzer(argc, argv, fuzzSocketAddress)
}
