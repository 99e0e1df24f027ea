@_spi(Generator) @testable import EBPF
import XCTest

/// libbcc's table type descriptions, laid out without a kernel.
final class TableLayoutTests: XCTestCase {
    func testPackedStructWithBccPaddingHidesThePads() throws {
        // What libbcc 0.26 reports for struct key_t { u32 pid; char comm[16]; u64 x; u8 y; }.
        let description =
            #"["key_t", [["pid","unsigned int"], ["comm","char", [16]], ["__pad_2","char",[4]], ["x","unsigned long long"], ["y","unsigned char"], ["__pad_end","char",[7]] ], "struct_packed"]"#
        let layout = try TableTypeLayout.make(description: description, size: 40, table: "t", what: "key")
        XCTAssertFalse(layout.isScalar)
        XCTAssertEqual(layout.layout.fields.map(\.name), ["pid", "comm", "x", "y"])
        XCTAssertEqual(layout.layout.fields.map(\.offset), [0, 4, 24, 32])
    }

    func testScalarsAndStackTraces() throws {
        let scalar = try TableTypeLayout.make(description: #""unsigned long long""#, size: 8, table: "t", what: "value")
        XCTAssertTrue(scalar.isScalar)
        let stack = try TableTypeLayout.make(
            description: #"["bpf_stacktrace", [["ip","unsigned long long", [127]] ], "struct_packed"]"#, size: 1016,
            table: "t", what: "value")
        XCTAssertEqual(stack.layout.fields.first?.count, 127)
    }

    func testUnpackedStructsAndUnionsFollowCRules() throws {
        let plain = try TableTypeLayout.make(
            description: #"["k", [["a","unsigned char"], ["b","unsigned long long"]], "struct"]"#, size: 16, table: "t",
            what: "key")
        XCTAssertEqual(plain.layout.fields.map(\.offset), [0, 8])
        let union = try TableTypeLayout.make(
            description: #"["u", [["a","unsigned int"], ["b","unsigned long long"]], "union"]"#, size: 8, table: "t",
            what: "key")
        XCTAssertEqual(union.layout.fields.map(\.offset), [0, 0])
        let nested = try TableTypeLayout.make(
            description:
                #"["k", [["pid","unsigned int"], ["addr", ["in", [["port","unsigned short"], ["ip","unsigned int"]], "struct"]]], "struct"]"#,
            size: 12, table: "t", what: "key")
        XCTAssertEqual(nested.layout.fields.map(\.name), ["pid", "addr.port", "addr.ip"])
        XCTAssertEqual(nested.layout.fields.map(\.offset), [0, 4, 8])
    }

    func testPublicDecoderReadsSavedMapData() throws {
        var bytes = [UInt8](repeating: 0, count: 12)
        bytes.replaceSubrange(0..<4, with: [7, 0, 0, 0])  // pid 7
        bytes.replaceSubrange(4..<6, with: [0x1F, 0x90])  // port 0x901F, little-endian
        bytes.replaceSubrange(8..<12, with: [1, 0, 0, 127])
        let value = try TableValue(
            typeDescription:
                #"["k", [["pid","unsigned int"], ["addr", ["in", [["port","unsigned short"], ["ip","unsigned int"]], "struct"]]], "struct"]"#,
            bytes: bytes)
        XCTAssertEqual(value.pid?.intValue, 7)
        XCTAssertEqual(value["addr.port"]?.intValue, 0x901F)
        XCTAssertEqual(value.fields.map(\.name), ["pid", "addr.port", "addr.ip"])
        XCTAssertEqual(try TableValue(typeDescription: #""unsigned short""#, bytes: [1, 2]).intValue, 0x0201)
        XCTAssertThrowsError(try TableValue(typeDescription: #""unsigned short""#, bytes: [1, 2, 3])) { error in
            XCTAssertEqual((error as? EBPFError)?.code, .decodingFailed)
        }
    }

    func testDescriptionsThatCannotBeLaidOutThrow() {
        for (description, size) in [
            (#""struct task_struct""#, 8), (#"["k", [["f","unsigned int", 3]], "struct"]"#, 4),
            (#""unsigned int""#, 8), ("not json", 4), (#"[1, 2"#, 4),
        ] {
            XCTAssertThrowsError(
                try TableTypeLayout.make(description: description, size: size, table: "t", what: "key"), description
            ) { error in
                XCTAssertEqual((error as! EBPFError).code, .decodingFailed)
            }
        }
    }

    func testLog2HistogramTextMatchesBcc() {
        var counts = [UInt64](repeating: 0, count: 65)
        counts[1] = 1
        counts[3] = 2
        counts[10] = 2
        let text = Histogram(scale: .log2, counts: counts).text(valueType: "usecs")
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        XCTAssertEqual(lines.first, "     usecs               : count     distribution")
        XCTAssertEqual(lines[1], "         0 -> 1          : 1        |********************                    |")
        XCTAssertEqual(lines[2], "         2 -> 3          : 0        |                                        |")
        XCTAssertEqual(lines[3], "         4 -> 7          : 2        |****************************************|")
        XCTAssertEqual(lines.last, "       512 -> 1023       : 2        |****************************************|")
        XCTAssertEqual(lines.count, 11)
        let stripped = Histogram(scale: .log2, counts: counts).text(stripLeadingZero: true)
        XCTAssertTrue(stripped.split(separator: "\n")[1].hasPrefix("         0 -> 1"))
        XCTAssertEqual(Histogram(scale: .log2, counts: [5]).text(), "", "slot 0 alone prints nothing, as in bcc")

        var linear = [UInt64](repeating: 0, count: 8)
        linear[2] = 4
        linear[5] = 1
        let linearLines = Histogram(scale: .linear, counts: linear).text(valueType: "fd").split(separator: "\n").map(
            String.init)
        XCTAssertEqual(linearLines.first, "     fd            : count     distribution")
        XCTAssertEqual(linearLines[3], "        2          : 4        |****************************************|")
        XCTAssertEqual(linearLines.last, "        5          : 1        |**********                              |")
    }
}
