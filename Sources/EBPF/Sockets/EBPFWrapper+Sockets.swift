import EBPFKernel
import EBPFProgram

extension EBPFWrapper where Program == CProgram {
    /// Opens a raw socket of every packet of network interface `interface` (of the calling
    /// thread's network namespace), both directions, from the Ethernet header on, and puts
    /// the program's function `function` on it as a socket filter, as bcc's
    /// `attach_raw_socket(fn, dev)`.
    ///
    /// - Returns: The socket, to read the packets the filter keeps; closing it (or the
    ///   wrapper) detaches the filter.
    /// - Throws: ``EBPFError/Code/invalidArgument`` for a malformed interface name,
    ///   ``EBPFError/Code/notFound`` for an interface this namespace lacks, the errors of
    ///   ``loadFunction(_:type:)``, ``EBPFError/Code/attachFailed``.
    public func openRawSocket(function: String, interface: String) throws(EBPFError) -> PacketSocket {
        try session.openRawSocket(function: function, interface: interface)
    }

    /// Puts the program's function `function` on socket `socket` of yours as a socket
    /// filter (`SO_ATTACH_BPF`): packets it returns 0 for never reach the socket.
    ///
    /// - Returns: A handle that takes the filter off when closed (or when the wrapper is);
    ///   your socket stays open and yours.
    /// - Throws: the errors of ``loadFunction(_:type:)``, ``EBPFError/Code/attachFailed``
    ///   for a descriptor that is not a socket (`ENOTSOCK`) or not open (`EBADF`).
    public func attachSocketFilter(function: String, socket: Int32) throws(EBPFError) -> PacketSocket {
        try session.attachSocketFilter(function: function, socket: socket)
    }
}

extension Session {
    func openRawSocket(function: String, interface: String) throws(EBPFError) -> PacketSocket {
        try checkOpen()
        try NameValidation.interfaceName(interface)
        let index = try Self.interfaceIndex(interface)
        let module = try nativeModule()
        let socket = try module.withFunction(function, type: .socketFilter) {
            (program) throws(EBPFError) -> PacketSocket in
            do throws(SystemCallFailure) {
                let socket = try PacketSockets.open(interfaceIndex: index, program: program)
                return PacketSocket(functionName: function, interface: interface, socket: socket, ownedByCaller: false)
            } catch {
                throw error.error(
                    .attachFailed, "could not open a raw socket on \(interface) filtered by '\(function)'")
            }
        }
        return try track(socket)
    }

    func attachSocketFilter(function: String, socket: Int32) throws(EBPFError) -> PacketSocket {
        try checkOpen()
        let module = try nativeModule()
        let filtered = try module.withFunction(function, type: .socketFilter) {
            (program) throws(EBPFError) -> PacketSocket in
            do throws(SystemCallFailure) {
                let own = try PacketSockets.filter(socketNumbered: socket, program: program)
                return PacketSocket(functionName: function, interface: nil, socket: own, ownedByCaller: true)
            } catch {
                throw error.error(.attachFailed, "could not put '\(function)' on socket \(socket) as its filter")
            }
        }
        return try track(filtered)
    }
}
