import XCTest

@_spi(Generator) @testable import EBPF
@testable import EBPFProgram

/// How a delivered record keeps its bytes and finds its fields: the per-event path every
/// closure probe and by-name buffer runs.
final class RecordStorageTests: XCTestCase {
    /// Records of every size up to past the inline capacity keep exactly the bytes they were
    /// given: the 16-byte chunking of small records and the heap copy of large ones.
    func testEverySizeKeepsItsBytes() {
        let recycler = RecordStorageRecycler()
        for size in 0...(2 * RecordBytes.inlineCapacity + 17) {
            let bytes = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ size) }
            let copied = bytes.withUnsafeBytes { RecordBytes($0).withBytes { Array($0) } }
            let recycled = bytes.withUnsafeBytes { RecordBytes($0, recycler: recycler).withBytes { Array($0) } }
            XCTAssertEqual(copied, bytes, "\(size) bytes")
            XCTAssertEqual(recycled, bytes, "\(size) bytes, recycled storage")
        }
    }

    /// A large record's storage is reused for the next record only when nothing kept the last
    /// one: a record the handler stored keeps its own bytes.
    func testRecycledStorageNeverChangesAKeptRecord() {
        let layout = RecordLayout.unshared(
            fields: [FieldLayout(name: "first", offset: 0, elementSize: 8, kind: .unsigned)], size: 200)
        let recycler = RecordStorageRecycler()
        func record(_ value: UInt8) -> EventRecord {
            [UInt8](repeating: value, count: 200).withUnsafeBytes {
                EventRecord(layout: layout, bytes: $0, recycler: recycler)
            }
        }
        func address(_ record: EventRecord) -> UnsafeRawPointer? { record.withBytes { $0.baseAddress } }

        let dropped = address(record(1))
        XCTAssertEqual(address(record(2)), dropped, "nothing kept the first record: its storage is reused")

        let kept = record(3)
        let next = record(4)
        XCTAssertNotEqual(address(next), address(kept), "a kept record's storage is not reused")
        XCTAssertEqual(kept.bytes, [UInt8](repeating: 3, count: 200))
        XCTAssertEqual(next.bytes, [UInt8](repeating: 4, count: 200))
        XCTAssertEqual(kept.first?.uint64Value, 0x0303_0303_0303_0303)

        let larger = [UInt8](repeating: 5, count: 300).withUnsafeBytes {
            EventRecord(layout: layout, bytes: $0, recycler: recycler)
        }
        XCTAssertEqual(larger.bytes, [UInt8](repeating: 5, count: 300), "a larger record gets larger storage")
        XCTAssertEqual(next.bytes, [UInt8](repeating: 4, count: 200))
    }

    /// Field names (C identifiers) are found whether or not the name's representation
    /// matches the layout's: small literals (the fast path), names built at run time, long
    /// names in storage of their own, and names of equal length that differ.
    func testFieldNamesAreFoundByTextNotByRepresentation() {
        let long = "a_field_name_longer_than_fifteen_bytes"
        let names = ["oldfd", "newfd", long]
        let layout = RecordLayout.unshared(
            fields: names.enumerated().map {
                FieldLayout(name: $0.element, offset: $0.offset * 4, elementSize: 4, kind: .unsigned)
            },
            size: 12)
        XCTAssertEqual(layout.index(named: "oldfd"), 0)
        XCTAssertEqual(layout.index(named: "newfd"), 1)
        XCTAssertEqual(layout.index(named: String("xnewfdx".dropFirst().dropLast())), 1, "a substring's copy")
        XCTAssertEqual(layout.index(named: "a_field_name_" + "longer_than_fifteen_bytes"), 2, "other storage")
        XCTAssertEqual(layout.index(named: long), 2)
        XCTAssertNil(layout.index(named: "oldfdx"))
        XCTAssertNil(layout.index(named: "oldf"))
        XCTAssertNil(layout.index(named: ""))
    }
}
