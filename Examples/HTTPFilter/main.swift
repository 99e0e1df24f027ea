// A socket filter that prints HTTP request lines, as bcc's http_filter: a raw socket of an
// interface keeps, in the kernel, only the TCP segments whose payload starts an HTTP
// request; this side prints their first line. A raw socket sees both directions, so on
// `lo` each request shows twice.
//
//   swift run http-filter INTERFACE [seconds]
import CommandLineSupport
import EBPF

#if canImport(Glibc)
import Glibc
#endif

let program = """
    #include <uapi/linux/if_ether.h>
    #include <uapi/linux/in.h>
    int http_requests(struct __sk_buff *skb) {
        if (load_half(skb, 12) != ETH_P_IP || load_byte(skb, 23) != IPPROTO_TCP) return 0;
        u32 ip_length = (load_byte(skb, 14) & 0xF) * 4;
        u32 tcp_length = (load_byte(skb, 14 + ip_length + 12) >> 4) * 4;
        u32 payload = 14 + ip_length + tcp_length;
        if (payload + 4 > skb->len) return 0;
        u32 start = load_word(skb, payload);
        // "GET ", "POST", "PUT ", "HEAD", "DELE"(TE)
        if (start == 0x47455420 || start == 0x504f5354 || start == 0x50555420 || start == 0x48454144
            || start == 0x44454c45)
            return -1;
        return 0;
    }
    """

Example.catchInterrupts()
Example.run {
    let (interface, seconds) = Example.nameAndSeconds(usage: "http-filter INTERFACE [seconds]")
    let b = try EBPFWrapper(text: program)
    defer { b.close() }
    let socket = try b.openRawSocket(function: "http_requests", interface: interface)
    print("Printing the HTTP requests on \(interface) for \(seconds) s (or until Ctrl-C)...")
    fflush(nil)
    let deadline = ContinuousClock.now + .seconds(seconds)
    var ending = false
    repeat {
        // Ending: what the socket queued before the interrupt is still printed.
        ending = Example.interrupted() || ContinuousClock.now >= deadline
        // At most 100 packets between two looks at the clock and the signals.
        for _ in 0..<100 {
            guard let packet = try socket.receive(timeout: ending ? .zero : .milliseconds(100)) else { break }
            // The filter kept it: IPv4 and TCP headers of the lengths they give, then the request.
            guard packet.count > 14 + 20 + 12 else { continue }
            let ipLength = Int(packet[14] & 0x0F) * 4
            guard packet.count > 14 + ipLength + 12 else { continue }
            let tcpLength = Int(packet[14 + ipLength + 12] >> 4) * 4
            let request = packet.dropFirst(14 + ipLength + tcpLength).prefix { $0 != 0x0D && $0 != 0x0A }
            print(String(decoding: request, as: UTF8.self).terminalSafe)
            fflush(nil)
        }
    } while !ending
}
