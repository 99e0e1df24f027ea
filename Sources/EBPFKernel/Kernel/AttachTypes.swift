/// The `enum bpf_attach_type` numbers the library uses, written out: the build's headers
/// may be older than the kernel (tcx came in 6.6), and the numbers never change.
package enum AttachTypes {
    package static let cgroupIngress: UInt32 = 0
    package static let cgroupEgress: UInt32 = 1
    package static let cgroupSockCreate: UInt32 = 2
    package static let cgroupInet4Bind: UInt32 = 8
    package static let cgroupInet6Bind: UInt32 = 9
    package static let cgroupInet4Connect: UInt32 = 10
    package static let cgroupInet6Connect: UInt32 = 11
    package static let cgroupUDP4Sendmsg: UInt32 = 14
    package static let cgroupUDP6Sendmsg: UInt32 = 15
    package static let traceFentry: UInt32 = 24
    package static let traceFexit: UInt32 = 25
    package static let lsmMAC: UInt32 = 27
    package static let traceIterator: UInt32 = 28
    package static let xdp: UInt32 = 37
    package static let tcxIngress: UInt32 = 46
    package static let tcxEgress: UInt32 = 47
}
