@_spi(Generator) @testable import EBPF
import Foundation
import XCTest

/// Packet programs on the test's own veth pair (``VethPair``): XDP, tc, socket filters.
/// Every packet is one the test sends, between the pair's two addresses.
final class NetworkProgramTests: XCTestCase {
    static let childRole = "EBPF_TEST_LINKS_CHILD"
    static let childTest = "EBPFTests.NetworkProgramTests/testLinksVanishWithAKilledProcessAndRtnetlinkClassifiersStay"

    /// Counts UDP datagrams to COUNTED_PORT (slot 0), and counts and drops those to
    /// DROPPED_PORT (slot 1).
    static let xdpCounter = """
        #include <uapi/linux/if_ether.h>
        #include <uapi/linux/in.h>
        #include <uapi/linux/ip.h>
        #include <uapi/linux/udp.h>
        BPF_ARRAY(counts, u64, 2);
        int on_packet(struct xdp_md *ctx) {
            void *data = (void *)(long)ctx->data;
            void *end = (void *)(long)ctx->data_end;
            struct ethhdr *eth = data;
            if ((void *)(eth + 1) > end || eth->h_proto != htons(ETH_P_IP)) return XDP_PASS;
            struct iphdr *ip = (void *)(eth + 1);
            if ((void *)(ip + 1) > end || ip->protocol != IPPROTO_UDP || ip->ihl != 5) return XDP_PASS;
            struct udphdr *udp = (void *)(ip + 1);
            if ((void *)(udp + 1) > end) return XDP_PASS;
            if (udp->dest == htons(COUNTED_PORT)) { counts.increment(0); return XDP_PASS; }
            if (udp->dest == htons(DROPPED_PORT)) { counts.increment(1); return XDP_DROP; }
            return XDP_PASS;
        }
        """

    /// The headers a packet program parses with.
    static let packetHeaders = """
        #include <uapi/linux/if_ether.h>
        #include <uapi/linux/in.h>
        #include <uapi/linux/ip.h>
        #include <uapi/linux/udp.h>
        #include <uapi/linux/pkt_cls.h>
        """

    /// Adds each egress UDP packet to PORT to slot 0 (bytes, from the Ethernet header on)
    /// and slot 1 (packets).
    static let egressCounter =
        packetHeaders + "\n" + """
            BPF_ARRAY(egress, u64, 2);
            static void add(int slot, u64 amount) {
                u64 *value = egress.lookup(&slot);
                if (value) __sync_fetch_and_add(value, amount);
            }
            int on_egress(struct __sk_buff *skb) {
                void *data = (void *)(long)skb->data;
                void *end = (void *)(long)skb->data_end;
                struct ethhdr *eth = data;
                if ((void *)(eth + 1) > end || eth->h_proto != htons(ETH_P_IP)) return TC_ACT_OK;
                struct iphdr *ip = (void *)(eth + 1);
                if ((void *)(ip + 1) > end || ip->protocol != IPPROTO_UDP || ip->ihl != 5) return TC_ACT_OK;
                struct udphdr *udp = (void *)(ip + 1);
                if ((void *)(udp + 1) > end || udp->dest != htons(PORT)) return TC_ACT_OK;
                add(0, skb->len);
                add(1, 1);
                return TC_ACT_OK;
            }
            """

    /// Keeps whole the packets that are IPv4 UDP to PORT (an Ethernet frame), and the
    /// datagrams whose first payload byte is 'K' (a UDP socket's, from the UDP header on).
    static let socketFilters = """
        #include <uapi/linux/if_ether.h>
        #include <uapi/linux/in.h>
        int udp_to_port(struct __sk_buff *skb) {
            if (load_half(skb, 12) != ETH_P_IP || load_byte(skb, 14) != 0x45 || load_byte(skb, 23) != IPPROTO_UDP)
                return 0;
            return load_half(skb, 36) == PORT ? -1 : 0;
        }
        int starts_with_k(struct __sk_buff *skb) {
            return load_byte(skb, 8) == 'K' ? -1 : 0;
        }
        """

    func testXDPCountsAndDropsExactlyTheTestsPackets() throws {
        try requireKernel()
        let veth = try VethPair()
        defer { veth.close() }
        let (counted, dropped): (UInt16, UInt16) = (40_001, 40_002)
        let b = try EBPFWrapper(
            text: Self.xdpCounter, cflags: ["-DCOUNTED_PORT=\(counted)", "-DDROPPED_PORT=\(dropped)"])
        defer { b.close() }
        let countedSocket = VethPair.udpSocket(address: veth.hostAddress, port: counted)
        let droppedSocket = VethPair.udpSocket(address: veth.hostAddress, port: dropped)
        let sender = veth.peer.run { VethPair.udpSocket(address: veth.peerAddress) }
        defer { [countedSocket, droppedSocket, sender].forEach { _ = close($0) } }
        let counts = try b.table("counts", key: UInt32.self, value: UInt64.self)

        for (round, mode) in [XDPMode.generic, .driver].enumerated() {
            let attachment = try b.attach(function: "on_packet", to: .xdp(veth.hostInterface, mode: mode))
            XCTAssertEqual(attachment.point.description, "xdp:\(veth.hostInterface)?mode=\(mode.rawValue)")
            let payload = Array("round \(round)".utf8)
            VethPair.send(12, payload, from: sender, to: veth.hostAddress, port: dropped)
            VethPair.send(20, payload, from: sender, to: veth.hostAddress, port: counted)
            // Every one of them ran through the program: then no dropped one is on its way.
            XCTAssertTrue(
                waitUntil {
                    (try? Self.values(counts)) == [UInt64(20 * (round + 1)), UInt64(12 * (round + 1))]
                }, "\(mode): \(String(describing: try? Self.values(counts)))")
            XCTAssertEqual(VethPair.receive(20, from: countedSocket), Array(repeating: payload, count: 20), "\(mode)")
            XCTAssertEqual(VethPair.drain(droppedSocket), 0, "\(mode): XDP_DROP let a datagram through")

            attachment.detach()
            XCTAssertFalse(attachment.isAttached)
            // Detached: the next ones reach the socket, and the program counts none.
            VethPair.send(5, payload, from: sender, to: veth.hostAddress, port: dropped)
            XCTAssertEqual(VethPair.receive(5, from: droppedSocket).count, 5, "\(mode)")
            XCTAssertEqual(try Self.values(counts), [UInt64(20 * (round + 1)), UInt64(12 * (round + 1))])
        }
        XCTAssertThrowsError(try b.attach(function: "on_packet", to: .xdp(veth.hostInterface, mode: .offload))) {
            XCTAssertEqual(($0 as? EBPFError)?.code, .notSupported, "\($0)")
        }
    }

    /// Through a tcx link where the kernel has tcx (6.6), and through rtnetlink (clsact and a
    /// bpf classifier) everywhere.
    func testTCCountsEgressBytesToAPortExactly() throws {
        try requireKernel()
        let veth = try VethPair()
        defer { veth.close() }
        let port: UInt16 = 40_003
        let receiver = veth.peer.run { VethPair.udpSocket(address: veth.peerAddress, port: port) }
        let sender = VethPair.udpSocket(address: veth.hostAddress)
        defer { [receiver, sender].forEach { _ = close($0) } }
        defer { KernelFeatures.rtnetlinkClassifiersForTesting.store(false, ordering: .relaxed) }
        for rtnetlink in KernelFeatures.hasTCX ? [false, true] : [true] {
            KernelFeatures.rtnetlinkClassifiersForTesting.store(rtnetlink, ordering: .relaxed)
            let b = try EBPFWrapper(text: Self.egressCounter, cflags: ["-DPORT=\(port)"])
            defer { b.close() }
            let egress = try b.table("egress", key: UInt32.self, value: UInt64.self)
            let attachment = try b.attach(function: "on_egress", to: .trafficControl(veth.hostInterface, .egress))
            XCTAssertEqual(attachment.point.description, "tc:\(veth.hostInterface):egress")
            XCTAssertEqual(try Self.trafficControl("qdisc", veth.hostInterface).contains("clsact"), rtnetlink)
            let payload = [UInt8](repeating: 0x61, count: 100)
            VethPair.send(10, payload, from: sender, to: veth.peerAddress, port: port)
            VethPair.send(3, payload, from: sender, to: veth.peerAddress, port: port + 1)
            XCTAssertEqual(VethPair.receive(10, from: receiver).count, 10)
            // Each: a 14-byte Ethernet header, a 20-byte IPv4 header, an 8-byte UDP header, the payload.
            XCTAssertEqual(try Self.values(egress), [10 * (14 + 20 + 8 + 100), 10], "rtnetlink: \(rtnetlink)")

            attachment.detach()
            VethPair.send(4, payload, from: sender, to: veth.peerAddress, port: port)
            XCTAssertEqual(VethPair.receive(4, from: receiver).count, 4)
            XCTAssertEqual(try Self.values(egress), [10 * 142, 10], "a detached classifier still counted")
            // The clsact qdisc the library added went with its last classifier.
            XCTAssertEqual(try Self.trafficControl("qdisc", veth.hostInterface).contains("clsact"), false)
        }
    }

    /// What `tc QDISC-OR-FILTER show dev INTERFACE` prints.
    static func trafficControl(_ object: String, _ interface: String, _ arguments: String...) throws -> String {
        let (status, output) = try runToCompletion("/usr/sbin/tc", [object, "show", "dev", interface] + arguments)
        XCTAssertEqual(status, .exited(0), output)
        return output
    }

    func testSocketFiltersDeliverExactlyTheTestsPackets() throws {
        try requireKernel()
        let veth = try VethPair()
        defer { veth.close() }
        let port: UInt16 = 40_004
        let b = try EBPFWrapper(text: Self.socketFilters, cflags: ["-DPORT=\(port)"])
        defer { b.close() }
        let sender = VethPair.udpSocket(address: veth.hostAddress)
        defer { _ = close(sender) }

        // A raw socket of the interface: only the UDP packets to the port, whole.
        let raw = try b.openRawSocket(function: "udp_to_port", interface: veth.hostInterface)
        XCTAssertEqual(raw.interface, veth.hostInterface)
        VethPair.send(9, Array("other".utf8), from: sender, to: veth.peerAddress, port: port + 1)
        for index in 0..<7 {
            VethPair.send(1, Array("kept \(index)".utf8), from: sender, to: veth.peerAddress, port: port)
        }
        // The tap queues each packet before its send returns: all seven are there, in order.
        var kept: [String] = []
        for _ in 0..<7 {
            guard let packet = try raw.receive(timeout: eventTimeout) else { break }
            XCTAssertEqual(packet.count, 14 + 20 + 8 + 6)
            kept.append(String(decoding: packet.dropFirst(42), as: UTF8.self))
        }
        XCTAssertEqual(kept, (0..<7).map { "kept \($0)" })
        XCTAssertNil(try raw.receive(timeout: .zero), "the filter let another packet through")
        raw.close()
        XCTAssertFalse(raw.isOpen)
        XCTAssertThrowsError(try raw.receive()) { XCTAssertEqual(($0 as? EBPFError)?.code, .closed) }

        // A socket of the test's: only the datagrams that start with K, until the filter goes.
        let receiver = VethPair.udpSocket(address: veth.hostAddress, port: port)
        defer { _ = close(receiver) }
        let peerSender = veth.peer.run { VethPair.udpSocket(address: veth.peerAddress) }
        defer { _ = close(peerSender) }
        let filter = try b.attachSocketFilter(function: "starts_with_k", socket: receiver)
        XCTAssertNil(filter.interface)
        for text in ["K1", "D1", "K2", "D2", "D3", "K3"] {
            VethPair.send(1, Array(text.utf8), from: peerSender, to: veth.hostAddress, port: port)
        }
        XCTAssertEqual(
            VethPair.receive(3, from: receiver).map { String(decoding: $0, as: UTF8.self) }, ["K1", "K2", "K3"])
        filter.close()
        VethPair.send(1, Array("D4".utf8), from: peerSender, to: veth.hostAddress, port: port)
        XCTAssertEqual(VethPair.receive(1, from: receiver).map { String(decoding: $0, as: UTF8.self) }, ["D4"])
        XCTAssertNotEqual(fcntl(receiver, F_GETFD), -1, "closing the filter closed the test's socket")
    }

    /// XDP, tcx and cgroup programs are attached through BPF links, which the kernel takes
    /// down with the last descriptor: a process killed with SIGKILL leaves none of them. A
    /// classifier attached through rtnetlink (before tcx) is not a link: it stays, running,
    /// until deleted.
    func testLinksVanishWithAKilledProcessAndRtnetlinkClassifiersStay() throws {
        if let role = ProcessInfo.processInfo.environment[Self.childRole] { try Self.attachAndWait(role) }
        try requireKernel()
        for rtnetlink in KernelFeatures.hasTCX ? [false, true] : [true] {
            try killAttachedChild(tcThroughRtnetlink: rtnetlink)
        }
    }

    func killAttachedChild(tcThroughRtnetlink rtnetlink: Bool) throws {
        let veth = try VethPair()
        defer { veth.close() }
        let cgroup = TestCgroup(mount: try Cgroup.mountPoint(), name: "ebpf-links-\(getpid())")
        try cgroup.make()
        defer { cgroup.remove() }
        let dropped: UInt16 = 40_005
        let receiver = VethPair.udpSocket(address: veth.hostAddress, port: dropped)
        let sender = veth.peer.run { VethPair.udpSocket(address: veth.peerAddress) }
        defer { [receiver, sender].forEach { _ = close($0) } }
        let child = try ChildProcess(
            try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"), [Self.childTest],
            environment: [Self.childRole: "\(veth.hostInterface):\(cgroup.relative):\(dropped):\(rtnetlink)"],
            mergeOutput: true)
        defer {
            child.signal(SIGKILL)
            _ = child.wait()
        }
        XCTAssertTrue(child.waitForOutput("ATTACHED", timeout: childReadyTimeout), child.standardOutput)
        let links = BPFTool.ids("link", heldBy: child.pid)
        XCTAssertEqual(links.count, rtnetlink ? 2 : 3, "XDP, cgroup and tcx links: \(child.standardOutput)")
        XCTAssertEqual(try Self.trafficControl("filter", veth.hostInterface, "egress").contains("on_egress"), rtnetlink)
        // Attached: the child's XDP program drops these, and says so once it has seen all three
        // (the receiving side's softirq may run after the send returns).
        VethPair.send(3, [1], from: sender, to: veth.hostAddress, port: dropped)
        XCTAssertTrue(child.waitForOutput("DROPPED 3", timeout: eventTimeout), child.standardOutput)

        child.signal(SIGKILL)
        XCTAssertEqual(child.wait(), .signaled(SIGKILL))
        XCTAssertTrue(
            waitUntil { ((try? BPFTool.ids("link")) ?? links).isDisjoint(with: links) },
            "every link of the killed process is gone")
        XCTAssertEqual(VethPair.drain(receiver), 0, "XDP let a datagram through while attached")
        VethPair.send(3, [2], from: sender, to: veth.hostAddress, port: dropped)
        XCTAssertEqual(VethPair.receive(3, from: receiver), [[2], [2], [2]], "the killed process's XDP still drops")
        // The rtnetlink classifier outlived its process (the pair's deletion takes it).
        XCTAssertEqual(try Self.trafficControl("filter", veth.hostInterface, "egress").contains("on_egress"), rtnetlink)
    }

    /// The child's role: attach XDP (dropping datagrams to the port), a tc classifier (through
    /// rtnetlink when told) and a cgroup program, say so, say when XDP has dropped three
    /// datagrams, and wait to be killed.
    static func attachAndWait(_ role: String) throws -> Never {
        let parts = role.split(separator: ":").map(String.init)
        KernelFeatures.rtnetlinkClassifiersForTesting.store(parts[3] == "true", ordering: .relaxed)
        let xdp = try EBPFWrapper(text: xdpCounter, cflags: ["-DCOUNTED_PORT=1", "-DDROPPED_PORT=\(parts[2])"])
        try xdp.attach(function: "on_packet", to: .xdp(parts[0]))
        let tc = try EBPFWrapper(text: egressCounter, cflags: ["-DPORT=1"])
        try tc.attach(function: "on_egress", to: .trafficControl(parts[0], .egress))
        let cgroup = try EBPFWrapper(text: CgroupProgramTests.refuseConnect, cflags: ["-DREFUSED_PORT=1"])
        try cgroup.attach(function: "refuse_port", to: .cgroup(parts[1], .connect4))
        print("ATTACHED")
        fflush(nil)
        let counts = try xdp.table("counts", key: UInt32.self, value: UInt64.self)
        var dropped: UInt64 = 0
        for _ in 0..<30_000 {
            dropped = (try? values(counts))?.last ?? 0
            if dropped == 3 { break }
            usleep(10_000)
        }
        print("DROPPED \(dropped)")
        fflush(nil)
        sleep(300)
        exit(1)
    }

    /// An array's values in index order.
    static func values(_ table: TypedTable<UInt32, UInt64>) throws -> [UInt64] {
        try table.snapshot().sorted { $0.key < $1.key }.map(\.value)
    }
}
