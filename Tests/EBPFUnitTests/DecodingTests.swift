@_spi(Generator) @testable import EBPF
import XCTest

/// The by-name decoder: C layout from libbcc's `name#type` strings, and value decoding.
final class DecodingTests: XCTestCase {
    func testLayoutFollowsCAlignmentRules() throws {
        // struct { u32 pid; u64 ts; char comm[16]; u8 flag; u16 port; int *p; }
        let layout = try SubmittedStructLayout.make(
            table: "events",
            descriptions: ["pid#u32", "ts#unsigned long long", "comm#char [16]", "flag#u8", "port#u16", "p#int *"])
        XCTAssertEqual(layout.fields.map(\.offset), [0, 8, 16, 32, 34, 40])
        XCTAssertEqual(layout.fields.map(\.size), [4, 8, 16, 1, 2, 8])
        XCTAssertEqual(layout.size, 48)
    }

    func testArraySpellingsAndTypedefs() throws {
        XCTAssertEqual(CType(parsing: "char[16]")?.count, 16)
        XCTAssertEqual(CType(parsing: "char [16]")?.count, 16)
        XCTAssertEqual(CType(parsing: "int[2][3]")?.count, 6)
        XCTAssertEqual(CType(parsing: "pid_t")?.kind, .signed)
        XCTAssertEqual(CType(parsing: "const char *")?.kind, .pointer)
        XCTAssertEqual(CType(parsing: "enum state")?.elementSize, 4)
        XCTAssertNil(CType(parsing: "struct sockaddr"))
        XCTAssertNil(CType(parsing: "my_typedef_t"))
        XCTAssertNil(CType(parsing: "int[x]"))
    }

    /// Which Swift types typed buffers and tables accept: those valid for every byte pattern.
    func testPlainDataAcceptsOnlyTypesValidForEveryBytePattern() throws {
        struct Header {
            var pid: UInt32
            var ratio: Float
            var comm: InlineArray<16, UInt8>
        }
        struct Nested {
            var header: Header
            var pair: (Int16, SIMD2<Double>)
            var grid: InlineArray<2, InlineArray<3, Int64>>
        }
        XCTAssertNoThrow(try PlainData.check(UInt64.self, as: "x"))
        XCTAssertNoThrow(try PlainData.check(Nested.self, as: "x"))
        struct Hidden {
            var header: Header
            var flags: InlineArray<4, Bool>
        }
        struct Deep { var inner: (UInt8, UnsafeRawPointer?) }
        for (check, message) in [
            ({ try PlainData.check(Bool.self, as: "the key type") }, "the key type, Bool, is a Bool"),
            ({ try PlainData.check(Hidden.self, as: "x") }, "Hidden's field flags, is a InlineArray<4, Bool>"),
            ({ try PlainData.check(Deep.self, as: "x") }, "Deep's field inner.1, is a Optional<UnsafeRawPointer>"),
        ] as [(() throws -> Void, String)] {
            XCTAssertThrowsError(try check()) { error in
                XCTAssertTrue((error as! EBPFError).message.contains(message), "\(error)")
            }
        }
    }

    /// libbcc's descriptions name members as C does; anything else is refused, so every
    /// field name (a dictionary key, a dotted path) is an identifier or a path of them.
    func testTableMemberNamesMustBeCIdentifiers() throws {
        for bad in ["a b", "1st", "x.y", "a\\u0000b"] {
            XCTAssertThrowsError(
                try TableValue(typeDescription: #"["k", [["\#(bad)","int"]], "struct"]"#, bytes: [0, 0, 0, 0]), bad
            ) { error in
                XCTAssertEqual((error as! EBPFError).code, .decodingFailed)
                XCTAssertTrue((error as! EBPFError).message.contains("is not a C identifier"), "\(error)")
            }
        }
        let value = try TableValue(
            typeDescription: #"["k", [["pid","int"], ["", ["u", [["a","int"]], "union"]]], "struct"]"#,
            bytes: [1, 0, 0, 0, 2, 0, 0, 0])
        XCTAssertEqual(value.fields.map(\.name), ["pid", "a"], "an anonymous member's fields keep their own names")
    }

    /// Interned layouts live as long as the process, so their number is bounded: past the
    /// limit, a new record type gets a layout of its own that its records keep alive (they
    /// hold interned ones without reference counting). Before, every distinct record type
    /// stayed forever, and a record trusted its layout to be interned.
    func testInternedLayoutsAreBoundedAndRecordsKeepTheirOwn() throws {
        let table = LayoutTable(limit: 3)
        let layouts = (0..<5).map { index in
            table.layout(
                fields: [FieldLayout(name: "field_\(index)", offset: 0, elementSize: 4, kind: .unsigned)], size: 4,
                eventName: "")
        }
        XCTAssertEqual(table.count, 3)
        XCTAssertEqual(layouts.map(\.isInterned), [true, true, true, false, false])
        XCTAssertTrue(
            table.layout(fields: layouts[0].fields, size: 4, eventName: "") === layouts[0],
            "the same type, the same layout")

        // A record of a layout that is not interned keeps it: nothing else refers to it here.
        let record = EventRecord(
            layout: table.layout(
                fields: [FieldLayout(name: "beyond_the_limit", offset: 0, elementSize: 4, kind: .unsigned)], size: 4,
                eventName: ""),
            bytes: [42, 0, 0, 0])
        XCTAssertEqual(record.beyond_the_limit?.intValue, 42)
        XCTAssertLessThanOrEqual(LayoutTable.shared.count, LayoutTable.shared.limit)
    }

    func testUnknownTypeIsAClearError() {
        XCTAssertThrowsError(
            try SubmittedStructLayout.make(table: "events", descriptions: ["pid#u32", "addr#struct sockaddr_in"])
        ) { error in
            let error = error as! EBPFError
            XCTAssertEqual(error.code, .decodingFailed)
            XCTAssertTrue(error.message.contains("addr"), error.message)
            XCTAssertTrue(error.message.contains("as:"), error.message)
        }
        XCTAssertThrowsError(try SubmittedStructLayout.make(table: "events", descriptions: [])) { error in
            XCTAssertEqual((error as! EBPFError).code, .decodingFailed)
        }
    }

    func testRecordDecodesEveryKind() throws {
        let layout = try SubmittedStructLayout.make(
            table: "t",
            descriptions: ["pid#u32", "delta#s32", "ts#u64", "comm#char[8]", "mac#u8[3]", "ok#_Bool", "vals#u16[2]"])
        var bytes = [UInt8](repeating: 0, count: layout.size)
        func put<T>(_ value: T, at offset: Int) {
            withUnsafeBytes(of: value) { bytes.replaceSubrange(offset..<offset + $0.count, with: $0) }
        }
        put(UInt32(4242), at: 0)
        put(Int32(-7), at: 4)
        put(UInt64.max, at: 8)
        bytes.replaceSubrange(16..<22, with: Array("bash\0x".utf8))
        bytes.replaceSubrange(24..<27, with: [0xde, 0xad, 0x01])
        bytes[27] = 1
        put(UInt16(3), at: 28)
        put(UInt16(9), at: 30)
        let record = EventRecord(layout: layout, bytes: bytes)
        XCTAssertEqual(record.pid?.intValue, 4242)
        XCTAssertEqual(record.delta?.intValue, -7)
        XCTAssertEqual(record.ts?.uint64Value, UInt64.max)
        XCTAssertNil(record.ts?.intValue, "u64 max does not fit an Int")
        XCTAssertEqual(record.comm?.stringValue, "bash")
        XCTAssertEqual(record["mac"], .bytes([0xde, 0xad, 0x01]))
        XCTAssertEqual(record.ok, .boolean(true))
        XCTAssertEqual(record.vals, .array([.unsigned(3), .unsigned(9)]))
        XCTAssertNil(record.missing)
        XCTAssertEqual(record.fieldNames, ["pid", "delta", "ts", "comm", "mac", "ok", "vals"])
        XCTAssertEqual(
            record.description, "pid=4242 delta=-7 ts=18446744073709551615 comm=bash mac=dead01 ok=true vals=[3, 9]")
    }

    func testPublicDecoderAndItsBounds() throws {
        let record = try EventRecord(
            fieldDescriptions: ["pid#u32", "comm#char[4]"], bytes: [7, 0, 0, 0] + Array("ab\0\0".utf8))
        XCTAssertEqual(record.pid?.intValue, 7)
        XCTAssertEqual(record.comm?.stringValue, "ab")
        // Sizes that would overflow, or exceed any real record, are rejected, not trapped on.
        for huge in ["x#char[99999999999]", "x#u64[4294967296][4294967296]", "x#char[2000000]"] {
            XCTAssertThrowsError(try EventRecord(fieldDescriptions: [huge], bytes: []), huge)
        }
        XCTAssertThrowsError(
            try TracepointFormat(
                category: "c", name: "n",
                parsing: "\tfield:int x;\toffset:9223372036854775807;\tsize:9223372036854775807;\tsigned:0;"))
    }

    func testShortRecordYieldsNilNotACrash() throws {
        let layout = try SubmittedStructLayout.make(table: "t", descriptions: ["a#u32", "b#u64"])
        let record = EventRecord(layout: layout, bytes: [1, 0, 0, 0, 0, 0, 0, 0, 2])
        XCTAssertEqual(record.a?.intValue, 1)
        XCTAssertNil(record.b)
    }
}
