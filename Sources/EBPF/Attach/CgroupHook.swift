import EBPFKernel

/// What a cgroup program runs on (``AttachPoint/cgroup(_:_:)``), and the program type and
/// attach type the kernel wants for it.
public enum CgroupHook: String, Hashable, Sendable, CaseIterable {
    /// Packets the cgroup's sockets receive (`BPF_CGROUP_INET_INGRESS`, `cgroup_skb`).
    case ingress
    /// Packets the cgroup's sockets send (`BPF_CGROUP_INET_EGRESS`, `cgroup_skb`).
    case egress
    /// Socket creation (`BPF_CGROUP_INET_SOCK_CREATE`, `cgroup_sock`).
    case sockCreate = "sock_create"
    /// IPv4 and IPv6 binds (`BPF_CGROUP_INET4_BIND`, `cgroup_sock_addr`).
    case bind4, bind6
    /// IPv4 and IPv6 connects (`BPF_CGROUP_INET4_CONNECT`, `cgroup_sock_addr`).
    case connect4, connect6
    /// UDP sends to an address (`BPF_CGROUP_UDP4_SENDMSG`, `cgroup_sock_addr`).
    case sendmsg4, sendmsg6

    /// The type the program is loaded as.
    public var programType: ProgramType {
        switch self {
        case .ingress, .egress: return .cgroupSKB
        case .sockCreate: return .cgroupSock
        case .bind4, .bind6, .connect4, .connect6, .sendmsg4, .sendmsg6: return .cgroupSockAddr
        }
    }

    /// The `enum bpf_attach_type` number.
    var attachType: UInt32 {
        switch self {
        case .ingress: return AttachTypes.cgroupIngress
        case .egress: return AttachTypes.cgroupEgress
        case .sockCreate: return AttachTypes.cgroupSockCreate
        case .bind4: return AttachTypes.cgroupInet4Bind
        case .bind6: return AttachTypes.cgroupInet6Bind
        case .connect4: return AttachTypes.cgroupInet4Connect
        case .connect6: return AttachTypes.cgroupInet6Connect
        case .sendmsg4: return AttachTypes.cgroupUDP4Sendmsg
        case .sendmsg6: return AttachTypes.cgroupUDP6Sendmsg
        }
    }
}
