// A tc egress byte counter per destination port: the bytes an interface sends to each TCP
// and UDP port, counted by a classifier on its egress (tcx from Linux 6.6, else clsact).
//
//   swift run tc-port-bytes INTERFACE [seconds]
import CommandLineSupport
import EBPF

#if canImport(Glibc)
import Glibc
#endif

let program = """
    #include <uapi/linux/if_ether.h>
    #include <uapi/linux/in.h>
    #include <uapi/linux/ip.h>
    #include <uapi/linux/udp.h>
    #include <uapi/linux/pkt_cls.h>
    BPF_HASH(bytes, u16, u64, 4096);
    int count_port(struct __sk_buff *skb) {
        void *data = (void *)(long)skb->data;
        void *end = (void *)(long)skb->data_end;
        struct ethhdr *eth = data;
        if ((void *)(eth + 1) > end || eth->h_proto != htons(ETH_P_IP)) return TC_ACT_OK;
        struct iphdr *ip = (void *)(eth + 1);
        if ((void *)(ip + 1) > end || (ip->protocol != IPPROTO_UDP && ip->protocol != IPPROTO_TCP)) return TC_ACT_OK;
        // TCP's and UDP's destination ports are at the same offset.
        struct udphdr *ports = (void *)ip + ip->ihl * 4;
        if ((void *)(ports + 1) > end) return TC_ACT_OK;
        u16 port = ntohs(ports->dest);
        u64 zero = 0, *total = bytes.lookup_or_try_init(&port, &zero);
        if (total) __sync_fetch_and_add(total, skb->len);
        return TC_ACT_OK;
    }
    """

Example.catchInterrupts()
Example.run {
    let (interface, seconds) = Example.nameAndSeconds(usage: "tc-port-bytes INTERFACE [seconds]")
    let b = try EBPFWrapper(text: program)
    defer { b.close() }
    try b.attach(function: "count_port", to: .trafficControl(interface, .egress))
    print("Counting the bytes \(interface) sends, by destination port, for \(seconds) s (or until Ctrl-C)...")
    fflush(nil)
    Example.waitForInterrupt(seconds: seconds)
    let bytes = try b.table("bytes", key: UInt16.self, value: UInt64.self)
    print("PORT   BYTES")
    for entry in try bytes.snapshot().sorted(by: { $0.value > $1.value }) {
        print(String(entry.key).padded(6), entry.value)
    }
}
