// An XDP packet counter by IP protocol, as bcc's xdp_drop_count: every IPv4 packet an
// interface receives, counted in the kernel before the stack sees it.
//
//   swift run xdp-protocols INTERFACE [seconds]
import CommandLineSupport
import EBPF

#if canImport(Glibc)
import Glibc
#endif

let program = """
    #include <uapi/linux/if_ether.h>
    #include <uapi/linux/ip.h>
    BPF_ARRAY(protocols, u64, 256);
    int count_protocol(struct xdp_md *ctx) {
        void *data = (void *)(long)ctx->data;
        void *end = (void *)(long)ctx->data_end;
        struct ethhdr *eth = data;
        if ((void *)(eth + 1) > end || eth->h_proto != htons(ETH_P_IP)) return XDP_PASS;
        struct iphdr *ip = (void *)(eth + 1);
        if ((void *)(ip + 1) > end) return XDP_PASS;
        protocols.increment(ip->protocol);
        return XDP_PASS;
    }
    """

/// IANA's names for the protocols seen most.
let names: [UInt32: String] = [
    1: "ICMP", 2: "IGMP", 6: "TCP", 17: "UDP", 47: "GRE", 50: "ESP", 58: "ICMPv6", 132: "SCTP",
]

Example.catchInterrupts()
Example.run {
    let (interface, seconds) = Example.nameAndSeconds(usage: "xdp-protocols INTERFACE [seconds]")
    let b = try EBPFWrapper(text: program)
    defer { b.close() }
    try b.attach(function: "count_protocol", to: .xdp(interface))
    print("Counting the IPv4 packets \(interface) receives for \(seconds) s (or until Ctrl-C)...")
    fflush(nil)
    Example.waitForInterrupt(seconds: seconds)
    let protocols = try b.table("protocols", key: UInt32.self, value: UInt64.self)
    print("PROTOCOL  PACKETS")
    for entry in try protocols.snapshot().sorted(by: { $0.key < $1.key }) where entry.value > 0 {
        print((names[entry.key] ?? "\(entry.key)").padded(9), entry.value)
    }
}
