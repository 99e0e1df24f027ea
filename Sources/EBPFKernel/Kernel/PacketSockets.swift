internal import CKernelABI

#if canImport(Glibc)
import Glibc
#endif

/// Sockets with a socket filter program on them (`SO_ATTACH_BPF`): packets the program
/// returns 0 for never reach the socket.
package enum PacketSockets {
    /// An `AF_PACKET` raw socket that receives every packet of the interface with index
    /// `interfaceIndex` (both directions, from the Ethernet header on), running `program` on
    /// each first: what bcc's `attach_raw_socket` opens. The socket is made with protocol 0
    /// (receiving nothing), filtered, then bound to the interface and every protocol, so no
    /// unfiltered packet, nor one of another interface, is ever queued.
    package static func open(
        interfaceIndex: UInt32, program: borrowing BorrowedDescriptor
    ) throws(SystemCallFailure) -> FileDescriptor {
        let protocolAll = UInt16(ETH_P_ALL).bigEndian
        let socket = FileDescriptor(
            adopting: try SystemCall.check("socket(AF_PACKET)") {
                Glibc.socket(AF_PACKET, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            })
        try attach(program, to: socket.rawValue)
        var address = sockaddr_ll()
        address.sll_family = UInt16(AF_PACKET)
        address.sll_protocol = protocolAll
        address.sll_ifindex = Int32(bitPattern: interfaceIndex)
        try SystemCall.check("bind(AF_PACKET)") {
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(socket.rawValue, $0, socklen_t(MemoryLayout<sockaddr_ll>.size))
                }
            }
        }
        return socket
    }

    /// Puts `program` on the caller's socket numbered `socket` and returns a descriptor of
    /// our own for it (to read from, and to take the filter off by).
    package static func filter(
        socketNumbered socket: Int32, program: borrowing BorrowedDescriptor
    ) throws(SystemCallFailure) -> FileDescriptor {
        let own = FileDescriptor(adopting: try SystemCall.check("dup") { fcntl(socket, F_DUPFD_CLOEXEC, 0) })
        try attach(program, to: own.rawValue)
        return own
    }

    /// Takes the filter off `socket` (`SO_DETACH_BPF`).
    package static func removeFilter(from socket: borrowing FileDescriptor) {
        var unused: Int32 = 0
        _ = setsockopt(socket.rawValue, SOL_SOCKET, SO_DETACH_BPF, &unused, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Reads one packet (or datagram) into `buffer` without blocking: its length, or nil
    /// when none is queued. A longer packet is cut to the buffer.
    package static func receive(
        from socket: borrowing FileDescriptor, into buffer: UnsafeMutableRawBufferPointer
    ) throws(SystemCallFailure) -> Int? {
        Glibc.errno = 0
        let length = recv(socket.rawValue, buffer.baseAddress, buffer.count, Int32(MSG_DONTWAIT))
        if length >= 0 { return length }
        if Glibc.errno == EAGAIN || Glibc.errno == EINTR { return nil }
        throw SystemCallFailure(call: "recv", errno: Glibc.errno)
    }

    private static func attach(_ program: borrowing BorrowedDescriptor, to socket: Int32) throws(SystemCallFailure) {
        var number = program.rawValue
        try SystemCall.check("setsockopt(SO_ATTACH_BPF)") {
            setsockopt(socket, SOL_SOCKET, SO_ATTACH_BPF, &number, socklen_t(MemoryLayout<Int32>.size))
        }
    }
}
