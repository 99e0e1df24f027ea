import EBPFKernel

/// A device map (`BPF_DEVMAP`, bcc's `BPF_DEVMAP(name, size)`): the interfaces an XDP
/// program sends packets out of with `bpf_redirect_map(&map, slot, 0)` (bcc's
/// `map.redirect_map(slot, 0)`), as bcc's `DevMap`.
public struct DevMap: Sendable {
    let access: MapAccess

    /// The device map `table`.
    ///
    /// - Throws: ``EBPFError/Code/invalidArgument`` when it is another type of table.
    public init(_ table: Table) throws(EBPFError) {
        try table.access.require(.deviceMap, as: "DevMap", declared: "BPF_DEVMAP(name, size)")
        access = table.access
    }

    /// Sends what slot `slot` redirects out of network interface `interface` (of the calling
    /// thread's network namespace).
    ///
    /// - Throws: ``EBPFError/Code/notFound`` for an interface that is not there.
    public func set(_ slot: UInt32, interface: String) throws(EBPFError) {
        try NameValidation.interfaceName(interface)
        let index = try Session.interfaceIndex(interface)
        try access.update(MapAccess.bytes(of: slot), MapAccess.bytes(of: index))
    }

    /// Empties slot `slot`: redirects to it drop the packet. False when it was empty.
    @discardableResult
    public func remove(_ slot: UInt32) throws(EBPFError) -> Bool { try access.delete(MapAccess.bytes(of: slot)) }
}

/// A CPU map (`BPF_CPUMAP`, bcc's `BPF_CPUMAP(name, size)`): CPUs an XDP program hands
/// packets to with `bpf_redirect_map(&map, cpu, 0)`, as bcc's `CpuMap`.
public struct CpuMap: Sendable {
    let access: MapAccess

    /// The CPU map `table`.
    ///
    /// - Throws: ``EBPFError/Code/invalidArgument`` when it is another type of table.
    public init(_ table: Table) throws(EBPFError) {
        try table.access.require(.cpuMap, as: "CpuMap", declared: "BPF_CPUMAP(name, size)")
        access = table.access
    }

    /// Lets redirects reach CPU `cpu`, through a queue of `queueSize` packets.
    public func set(_ cpu: UInt32, queueSize: UInt32) throws(EBPFError) {
        try access.update(MapAccess.bytes(of: cpu), MapAccess.bytes(of: queueSize))
    }

    /// Stops redirects to CPU `cpu`. False when none went there.
    @discardableResult
    public func remove(_ cpu: UInt32) throws(EBPFError) -> Bool { try access.delete(MapAccess.bytes(of: cpu)) }
}

/// An XSK map (`BPF_XSKMAP`, bcc's `BPF_XSKMAP(name, size)`): AF_XDP sockets an XDP program
/// hands packets to with `bpf_redirect_map(&map, queue, 0)`, as bcc's `XskMap`.
public struct XskMap: Sendable {
    let access: MapAccess

    /// The XSK map `table`.
    ///
    /// - Throws: ``EBPFError/Code/invalidArgument`` when it is another type of table.
    public init(_ table: Table) throws(EBPFError) {
        try table.access.require(.xskMap, as: "XskMap", declared: "BPF_XSKMAP(name, size)")
        access = table.access
    }

    /// Hands what slot `slot` redirects to your AF_XDP socket `socket` (bound to the
    /// interface's queue `slot`). The map keeps the socket, not the number.
    public func set(_ slot: UInt32, socket: Int32) throws(EBPFError) {
        try access.withMap("put socket \(socket) into") { (map) throws(SystemCallFailure) in
            try LibBCC.MapCalls.store(descriptorNumbered: socket, in: map, index: slot)
        }
    }

    /// Empties slot `slot`. False when it was empty.
    @discardableResult
    public func remove(_ slot: UInt32) throws(EBPFError) -> Bool { try access.delete(MapAccess.bytes(of: slot)) }
}
