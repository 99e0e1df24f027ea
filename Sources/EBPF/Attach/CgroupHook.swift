import EBPFKernel

/// What a cgroup program runs on (``AttachPoint/cgroup(_:_:mode:)``), and the program type and
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

/// How a cgroup program is attached (``AttachPoint/cgroup(_:_:mode:)``).
public enum CgroupAttachMode: String, Hashable, Sendable, CaseIterable {
    /// Through a BPF link (kernel 5.7), beside the cgroup's other programs: detached with
    /// the handle, the wrapper, or at the latest when the process exits.
    case link
    /// `BPF_PROG_ATTACH` with `BPF_F_ALLOW_MULTI`: beside other programs attached so, and
    /// run after those of the cgroups above. Stays after the process exits, until detached.
    case multi
    /// `BPF_PROG_ATTACH` with `BPF_F_ALLOW_OVERRIDE`: a program of a cgroup below may
    /// replace it there. Stays after the process exits, until detached.
    case override
    /// `BPF_PROG_ATTACH` without flags: the cgroup's only program at the hook, which no
    /// cgroup below may override. Stays after the process exits, until detached.
    case exclusive

    /// The `BPF_F_ALLOW_*` flags; nil for a link.
    var flags: UInt32? {
        switch self {
        case .link: return nil
        case .multi: return 2
        case .override: return 1
        case .exclusive: return 0
        }
    }
}
