import EBPF
import XCTest

@testable import EBPFExporter

/// Prometheus's text format as the exporter writes it.
final class ExpositionTests: XCTestCase {
    func testLabelValuesAndHelpAreEscaped() {
        var text = ExpositionText()
        text.family("m", help: "a \\ b\nc", type: "counter")
        text.sample("m", [("comm", "a\"b\\c\nd")], "3")
        XCTAssertEqual(text.text, "# HELP m a \\\\ b\\nc\n# TYPE m counter\nm{comm=\"a\\\"b\\\\c\\nd\"} 3\n")
    }

    func testLog2SlotsBecomeCumulativeBucketsBoundedBy2ToTheNMinus1() {
        // Slot 1 holds 0 and 1, slot 3 holds 4 to 7, slot 10 holds 512 to 1023.
        var slots = [UInt64](repeating: 0, count: 65)
        slots[1] = 2
        slots[3] = 2
        slots[10] = 1
        let histogram = Histogram(scale: .log2, counts: slots)
        let buckets = HistogramBounds.cumulative(histogram, below: 1, divisor: nil)
        XCTAssertEqual(buckets.map(\.bound), ["-1", "1", "3", "7", "15", "31", "63", "127", "255", "511", "1023"])
        XCTAssertEqual(buckets.map(\.count), [1, 3, 3, 5, 5, 5, 5, 5, 5, 5, 6])
        let seconds = HistogramBounds.cumulative(histogram, below: nil, divisor: 1e9)
        XCTAssertEqual(seconds.first?.bound, "1e-09")
        XCTAssertEqual(seconds.last?.bound, "1.023e-06")
        XCTAssertEqual(seconds.last?.count, 5)
        XCTAssertEqual(
            HistogramBounds.cumulative(Histogram(scale: .log2, counts: []), below: nil, divisor: nil).count, 0)
        var top = [UInt64](repeating: 0, count: 65)
        top[64] = 1
        XCTAssertEqual(
            HistogramBounds.cumulative(Histogram(scale: .log2, counts: top), below: nil, divisor: nil).last?.bound,
            "18446744073709551615")
    }

    func testLinearStepsAreBoundedByTheirLargestValue() {
        let histogram = Histogram(scale: .steps(from: 100, width: 50), counts: [2, 0, 3])
        let buckets = HistogramBounds.cumulative(histogram, below: 4, divisor: nil)
        XCTAssertEqual(buckets.map(\.bound), ["99", "149", "199", "249"])
        XCTAssertEqual(buckets.map(\.count), [4, 6, 6, 9])
        let fromZero = HistogramBounds.cumulative(
            Histogram(scale: .steps(from: 0, width: 10), counts: [1]), below: 0, divisor: nil)
        XCTAssertEqual(fromZero.map(\.bound), ["-1", "9"])
    }

    func testAHistogramEndsWithInfSumAndCount() {
        var text = ExpositionText()
        text.histogram("h", [("comm", "cat")], buckets: [("1", 2), ("3", 5)], sum: "9", count: 6)
        XCTAssertEqual(
            text.text,
            """
            h_bucket{comm="cat",le="1"} 2
            h_bucket{comm="cat",le="3"} 5
            h_bucket{comm="cat",le="+Inf"} 6
            h_sum{comm="cat"} 9
            h_count{comm="cat"} 6

            """)
    }

    func testListenAddressesAreHostAndPort() throws {
        XCTAssertEqual(try MetricsServer.parse("127.0.0.1:9436").host, "127.0.0.1")
        XCTAssertEqual(try MetricsServer.parse("[::1]:0").host, "::1")
        XCTAssertEqual(try MetricsServer.parse("[::1]:0").port, 0)
        for bad in ["9436", ":9436", "host:99999", "host:port"] {
            XCTAssertThrowsError(try MetricsServer.parse(bad), bad)
        }
    }
}
