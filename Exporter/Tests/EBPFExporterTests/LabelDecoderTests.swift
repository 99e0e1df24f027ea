import EBPF
import XCTest

@testable import EBPFExporter

/// Each decoder on values whose names are known, and chains of them.
final class LabelDecoderTests: XCTestCase {
    func testEachDecoderNamesWhatItKnowsAndKeepsTheRest() throws {
        let wrapper = try EBPFWrapper()
        defer { wrapper.close() }
        let context = LabelContext(symbols: wrapper.symbols, cgroups: CgroupResolver())
        func decode(_ decoder: LabelDecoder, _ value: String) -> String? { decoder.decode(value, in: context) }
        XCTAssertEqual(decode(.syscall, "257"), "openat")
        XCTAssertEqual(decode(.syscall, "39"), "getpid")
        XCTAssertEqual(decode(.syscall, "100000"), "100000", "a number the table lacks stays")
        XCTAssertEqual(decode(.errno, "-2"), "ENOENT")
        XCTAssertEqual(decode(.errno, "-13"), "EACCES")
        XCTAssertEqual(decode(.errno, "0"), "0", "success stays")
        XCTAssertEqual(decode(.errno, "2"), "2", "a descriptor, not an error")
        XCTAssertEqual(decode(.inetIP, "16777343"), "127.0.0.1", "0x0100007f: 127.0.0.1 in network byte order")
        XCTAssertEqual(decode(.inetIP, "x"), "x")
        XCTAssertEqual(decode(.staticMap(["1": "one"]), "1"), "one")
        XCTAssertEqual(decode(.staticMap(["1": "one"]), "2"), "2")
        XCTAssertEqual(decode(.regexp(["open", "^read$"]), "openat"), "openat", "a match anywhere keeps it")
        XCTAssertNil(decode(.regexp(["open", "^read$"]), "readv"), "no match drops it")
        let chain = DecoderChain([.syscall, .regexp(["^get"]), .staticMap(["getppid": "parent"])])
        XCTAssertEqual(chain.decode("110", in: context), "parent")
        XCTAssertEqual(chain.decode("39", in: context), "getpid")
        XCTAssertNil(chain.decode("257", in: context), "openat dropped by the regexp")
        XCTAssertEqual(decode(.cgroup(unit: false), "not a number"), "not a number")
    }

    /// Addresses of the running kernel, from /proc/kallsyms: root only (the addresses read
    /// as zero otherwise).
    func testKernelAddressesAndCgroupIdsAreNamed() throws {
        try KernelTestGate.require(geteuid() == 0, "not root")
        let wrapper = try EBPFWrapper()
        defer { wrapper.close() }
        let context = LabelContext(symbols: wrapper.symbols, cgroups: CgroupResolver())
        let address = try XCTUnwrap(wrapper.symbols.ksymname("hrtimer_wakeup"))
        XCTAssertEqual(LabelDecoder.ksym.decode(String(address), in: context), "hrtimer_wakeup")
        XCTAssertEqual(LabelDecoder.ksym.decode("0x" + String(address, radix: 16), in: context), "hrtimer_wakeup")
        let mine = try Cgroup.of(processID: getpid())
        XCTAssertEqual(LabelDecoder.cgroup(unit: false).decode(String(mine.id), in: context), mine.path)
    }

    /// Keys that decode to one value are one series: counts, sums and buckets added.
    func testEntriesOfOneDecodedValueAddUp() {
        let one = Aggregation.Entry(
            key: .string("open"), count: 3, sum: 30, min: 2, max: 20,
            histogram: Histogram(scale: .log2, counts: [1, 2]), belowRangeCount: 1)
        let other = Aggregation.Entry(
            key: .string("open"), count: 4, sum: 40, min: 1, max: 9,
            histogram: Histogram(scale: .log2, counts: [0, 1, 3]), belowRangeCount: 2)
        let both = one.adding(other)
        XCTAssertEqual(both.count, 7)
        XCTAssertEqual(both.sum, 70)
        XCTAssertEqual(both.min, 1)
        XCTAssertEqual(both.max, 20)
        XCTAssertEqual(both.histogram?.counts, [1, 3, 3])
        XCTAssertEqual(both.belowRangeCount, 3)
        XCTAssertNil(Aggregation.Entry(key: nil, count: 1).adding(Aggregation.Entry(key: nil, count: 2)).sum)
    }
}
