import EBPFKernel
import EBPFProgram
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The ELF symbol-table reader: against `readelf` on this test binary, against this
/// process's own memory, and on built and damaged files.
final class ELFFunctionsTests: XCTestCase {
    /// The functions of the file at `path`.
    private func functions(in path: String) throws -> [ELFFunction] {
        let file = try FileDescriptor.open(path, O_RDONLY)
        return try ELFFunctions.read(file)
    }

    private func functions(in image: [UInt8]) throws -> [ELFFunction] {
        try ELFFunctions.read(size: UInt64(image.count)) { offset, count in
            guard offset < UInt64(image.count) else { return [] }
            return Array(image[Int(offset)..<min(image.count, Int(offset) + count)])
        }
    }

    private func assertInvalidFormat(
        _ body: @autoclosure () throws -> [ELFFunction], _ message: String = "", file: StaticString = #filePath,
        line: UInt = #line
    ) {
        XCTAssertThrowsError(try body(), message, file: file, line: line) { error in
            XCTAssertEqual((error as? EBPFError)?.code, .invalidFormat, "\(error)", file: file, line: line)
        }
    }

    /// The FUNC and IFUNC symbols `readelf -W -s` lists as defined, `@version` dropped, are
    /// exactly what the reader finds in this test binary.
    func testTestBinaryMatchesReadelf() throws {
        // binutils is installed by scripts/setup-host.sh and in every guest's root.
        let readelf = try XCTUnwrap(Command.find("readelf"), "readelf (binutils) is not installed")
        let path = try LoadedObject.programPath()
        let clock = ContinuousClock()
        var found: [ELFFunction] = []
        let elapsed = try clock.measure { found = try functions(in: path) }
        print("read \(found.count) functions of \(path) in \(elapsed)")

        var expected = Set<String>()
        for line in try Command.run(readelf, ["-W", "-s", path]).split(separator: "\n") {
            // Num: Value Size Type Bind Vis Ndx Name
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 8, fields[3] == "FUNC" || fields[3] == "IFUNC", fields[6] != "UND",
                let value = UInt64(fields[1], radix: 16)
            else { continue }
            let name = fields[7].split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false)[0]
            expected.insert("\(name) \(String(value, radix: 16))")
        }
        let actual = Set(found.map { "\($0.symbol) \(String($0.address, radix: 16))" })
        XCTAssertGreaterThan(expected.count, 1000)
        XCTAssertEqual(actual.count, found.count, "each (symbol, address) once")
        XCTAssertEqual(actual.subtracting(expected).sorted().prefix(20), [], "found, but not listed by readelf")
        XCTAssertEqual(expected.subtracting(actual).sorted().prefix(20), [], "listed by readelf, but not found")
        XCTAssertEqual(found, found.sorted { ($0.address, $0.symbol) < ($1.address, $1.symbol) })
    }

    /// For the program and the C library mapped in this process, the bytes at each sampled
    /// function's file offset are the bytes at its address in memory (the load bias added).
    func testFileOffsetsHoldTheCodeThisProcessRuns() throws {
        let objects = try LoadedObject.all()
        XCTAssertEqual(objects.count, 2, "\(objects)")
        for object in objects {
            let file = try FileDescriptor.open(object.path, O_RDONLY)
            let found = try ELFFunctions.read(file)
            // The bias agrees with where one of the object's functions is.
            let (symbol, runtime): (String, UnsafeRawPointer?) =
                object.path.contains("libc.so")
                ? ("getpid", UnsafeRawPointer(dlsym(nil, "getpid")))
                : (
                    "ebpf_unit_tests_marker",
                    unsafeBitCast(ebpfUnitTestsMarker as @convention(c) () -> Void, to: UnsafeRawPointer.self)
                )
            let known = try XCTUnwrap(found.first { $0.symbol == symbol }, symbol)
            XCTAssertEqual(object.bias &+ known.address, UInt64(UInt(bitPattern: runtime)), symbol)
            let sampled = found.filter { $0.size >= 8 }.enumerated().filter { $0.offset % 37 == 0 }.map(\.element)
            XCTAssertGreaterThan(sampled.count, 20, object.path)
            for function in sampled {
                let count = Int(min(function.size, 64))
                let inFile = try file.read(at: function.fileOffset, count: count)
                let memory = try XCTUnwrap(UnsafeRawPointer(bitPattern: UInt(object.bias &+ function.address)))
                XCTAssertEqual(
                    inFile, Array(UnsafeRawBufferPointer(start: memory, count: count)),
                    "\(function.symbol) in \(object.path)")
            }
        }
    }

    /// A built file whose code segment lies at another offset than its address: offsets are
    /// translated, only defined functions in executable segments count, versions are
    /// dropped, and a name in both tables is listed once.
    func testBuiltFileOffsetsTypesAndBindings() throws {
        let image = ELFImage(
            segments: [
                ELFImage.Segment(offset: 0x1000, address: 0x40_1000, fileSize: 0x800),
                ELFImage.Segment(flags: 6, offset: 0x1800, address: 0x60_1800, fileSize: 0x100),  // RW
            ],
            symbols: [
                .init("main", value: 0x40_1100),
                .init("helper", binding: 0, value: 0x40_1010, size: 32),
                .init("weak_one", binding: 2, value: 0x40_1200),
                .init("resolver", type: 10, value: 0x40_1300),  // STT_GNU_IFUNC
                .init("data", type: 1, value: 0x40_1400),  // STT_OBJECT
                .init("imported", section: 0, value: 0),  // SHN_UNDEF
                .init("in_data", value: 0x60_1810),  // not executable
                .init("past_segment", value: 0x40_1800),  // beyond the file part
                .init("", value: 0x40_1500),
                .init(bytes: [0x66, 0xFF, 0x6F], value: 0x40_1600),  // not UTF-8
                .init(bytes: [UInt8](repeating: 0x61, count: 4097), value: 0x40_1700),
                .init("alias", value: 0x40_1100),
            ],
            dynamicSymbols: [
                .init("main", value: 0x40_1100),
                .init("memcpy@@GLIBC_2.14", value: 0x40_1120),
            ])
        let found = try functions(in: image.bytes)
        XCTAssertEqual(
            found.map {
                "\($0.symbol) \(String($0.address, radix: 16)) \(String($0.fileOffset, radix: 16)) \($0.size) \($0.isGlobal)"
            },
            [
                "helper 401010 1010 32 false",
                "alias 401100 1100 16 true",
                "main 401100 1100 16 true",
                "memcpy 401120 1120 16 true",
                "weak_one 401200 1200 16 true",
                "resolver 401300 1300 16 true",
            ])
        let longest = [UInt8](repeating: 0x62, count: ELFFunctions.maximumNameLength)
        let bounded = try functions(
            in: ELFImage(
                segments: [ELFImage.Segment(offset: 0x1000, address: 0x1000, fileSize: 0x100)],
                symbols: [.init(bytes: longest, value: 0x1000)]
            ).bytes)
        XCTAssertEqual(bounded.map(\.symbol), [String(decoding: longest, as: UTF8.self)])
    }

    func testNotELF64LittleEndianIsRefused() {
        var image = ELFImage(segments: []).bytes
        for (offset, value) in [(0, UInt8(0x7E)), (4, 1), (5, 2)] {
            var damaged = image
            damaged[offset] = value
            XCTAssertThrowsError(try functions(in: damaged)) { error in
                XCTAssertEqual((error as? EBPFError)?.code, .invalidFormat)
                XCTAssertEqual((error as? EBPFError)?.message, "not a 64-bit little-endian ELF file")
            }
        }
        assertInvalidFormat(try functions(in: []))
        assertInvalidFormat(try functions(in: Array(image.prefix(63))))
        image = Array("#!/bin/sh\necho not an ELF file\n".utf8) + [UInt8](repeating: 0, count: 64)
        assertInvalidFormat(try functions(in: image))
    }

    /// Every offset, count and size in the headers is checked before it is read.
    func testDamagedTablesThrowInvalidFormat() {
        let image = ELFImage(
            segments: [ELFImage.Segment(offset: 0x1000, address: 0x1000, fileSize: 0x100)],
            symbols: [.init("f", value: 0x1010)])
        let layout = image.layout
        let pristine = image.bytes
        let damages: [(String, (inout [UInt8]) -> Void)] = [
            ("program headers past the end", { $0.store(littleEndian: UInt64(pristine.count - 8), at: 0x20) }),
            ("program header offset overflows", { $0.store(littleEndian: UInt64.max - 8, at: 0x20) }),
            ("program header entry too small", { $0.store(littleEndian: UInt16(8), at: 0x36) }),
            ("section headers past the end", { $0.store(littleEndian: UInt64(pristine.count), at: 0x28) }),
            ("section header entry too small", { $0.store(littleEndian: UInt16(40), at: 0x3A) }),
            ("too many section headers", { $0.store(littleEndian: UInt16(0xFFFF), at: 0x3C) }),
            (
                "extended section count too large",
                {
                    $0.store(littleEndian: UInt16(0), at: 0x3C)
                    $0.store(littleEndian: UInt64.max / 2, at: layout.sectionHeaders + 32)
                }
            ),
            (
                "symbol table past the end",
                { $0.store(littleEndian: UInt64(1 << 40), at: layout.sectionHeaders + 64 + 32) }
            ),
            (
                "symbol table offset overflows",
                { $0.store(littleEndian: UInt64.max, at: layout.sectionHeaders + 64 + 24) }
            ),
            ("symbol entry too small", { $0.store(littleEndian: UInt64(8), at: layout.sectionHeaders + 64 + 56) }),
            ("symbol entry of 0 bytes", { $0.store(littleEndian: UInt64(0), at: layout.sectionHeaders + 64 + 56) }),
            ("string table missing", { $0.store(littleEndian: UInt32(77), at: layout.sectionHeaders + 64 + 40) }),
            (
                "string table past the end",
                { $0.store(littleEndian: UInt64(1 << 33), at: layout.sectionHeaders + 128 + 24) }
            ),
        ]
        for (what, damage) in damages {
            var damaged = pristine
            damage(&damaged)
            assertInvalidFormat(try functions(in: damaged), what)
        }
        // Empty tables with entry sizes of 0.
        var empty = pristine
        empty.store(littleEndian: UInt16(0), at: 0x36)
        empty.store(littleEndian: UInt16(0), at: 0x38)
        XCTAssertEqual(try functions(in: empty), [])
        empty.store(littleEndian: UInt16(0), at: 0x3A)
        empty.store(littleEndian: UInt16(0), at: 0x3C)
        assertInvalidFormat(try functions(in: empty), "extended section count in an entry of 0 bytes")
        empty.store(littleEndian: UInt64(0), at: 0x28)
        XCTAssertEqual(try functions(in: empty), [])
        // A file that ends before the size it was said to have.
        assertInvalidFormat(
            try ELFFunctions.read(size: UInt64(pristine.count)) { offset, count in
                let end = min(pristine.count - 100, Int(offset) + count)
                return end > Int(offset) ? Array(pristine[Int(offset)..<end]) : []
            })
        // Names past their table, and segments whose offsets overflow, are skipped.
        var damaged = pristine
        damaged.store(littleEndian: UInt32(1 << 20), at: layout.symbolTable + 24)
        XCTAssertEqual(try functions(in: damaged), [])
        damaged = pristine
        damaged.store(littleEndian: UInt64.max - 4, at: layout.programHeaders + 8)
        XCTAssertEqual(try functions(in: damaged), [])
    }

    /// Bytes, and whole header and symbol fields, changed at random in a built file never
    /// trap: the reader returns or throws `.invalidFormat`.
    func testRandomDamageNeverTraps() {
        var generator = SplitMix64(seed: 0xEBBF)
        let image = ELFImage(
            segments: [
                ELFImage.Segment(offset: 0x400, address: 0x1400, fileSize: 0x100),
                ELFImage.Segment(flags: 6, offset: 0x500, address: 0x2500, fileSize: 0x10),
            ],
            symbols: (0..<20).map { .init("function_\($0)", value: 0x1400 + UInt64($0) * 8) },
            dynamicSymbols: [.init("function_1", value: 0x1408)])
        let pristine = image.bytes
        // (offset, width) of every field the reader reads.
        var fields: [(Int, Int)] = [(0x20, 8), (0x28, 8), (0x36, 2), (0x38, 2), (0x3A, 2), (0x3C, 2)]
        for entry in 0..<2 {
            fields += [(0, 4), (4, 4), (8, 8), (16, 8), (32, 8)].map {
                (image.layout.programHeaders + entry * 56 + $0, $1)
            }
        }
        for entry in 0..<5 {
            fields += [(4, 4), (24, 8), (32, 8), (40, 4), (56, 8)].map {
                (image.layout.sectionHeaders + entry * 64 + $0, $1)
            }
        }
        for entry in 0..<21 {
            fields += [(0, 4), (4, 1), (6, 2), (8, 8), (16, 8)].map { (image.layout.symbolTable + entry * 24 + $0, $1) }
        }
        let values: [UInt64] = [
            0, 1, 8, 24, 56, 64, 0xFF, 0xFFFF, 0xFFFF_FFFF, UInt64(pristine.count), UInt64(pristine.count - 1),
            UInt64(Int64.max), UInt64.max - 1, UInt64.max, 1 << 40, 0x1400,
        ]
        for round in 0..<6000 {
            var damaged = pristine
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                if round % 2 == 0 {
                    let offset = Int.random(in: 0..<damaged.count, using: &generator)
                    damaged[offset] = UInt8.random(in: 0...255, using: &generator)
                } else {
                    let (offset, width) = fields.randomElement(using: &generator)!
                    let value =
                        Bool.random(using: &generator)
                        ? values.randomElement(using: &generator)!
                        : UInt64.random(in: 0...UInt64.max, using: &generator)
                    for byte in 0..<width { damaged[offset + byte] = UInt8(truncatingIfNeeded: value >> (8 * byte)) }
                }
            }
            do {
                _ = try functions(in: damaged)
            } catch let error as EBPFError {
                XCTAssertEqual(error.code, .invalidFormat, error.message)
            } catch {
                XCTFail("\(error)")
            }
        }
        for length in [0, 1, 16, 64, 100, 1000] {
            let random = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            assertInvalidFormat(try functions(in: random))
        }
    }

    /// A copy of this test binary cut short throws `.invalidFormat`: its section headers lie
    /// at the end.
    func testTruncatedCopyOfTestBinary() throws {
        let original = try FileDescriptor.open("/proc/self/exe", O_RDONLY)
        let size = try original.size()
        let prefix = try original.read(at: 0, count: Int(size * 3 / 5))
        XCTAssertEqual(prefix.count, Int(size * 3 / 5))
        let path = try Command.temporaryFile("")
        defer { unlink(path) }
        let copy = open(path, O_WRONLY)
        XCTAssertEqual(prefix.withUnsafeBytes { write(copy, $0.baseAddress, $0.count) }, prefix.count)
        close(copy)
        let truncated = try FileDescriptor.open(path, O_RDONLY)
        XCTAssertEqual(try truncated.size(), UInt64(prefix.count))
        assertInvalidFormat(try ELFFunctions.read(truncated))
    }

    func testReadAtOffsetStopsAtEndOfFile() throws {
        let path = try Command.temporaryFile("0123456789")
        defer { unlink(path) }
        let file = try FileDescriptor.open(path, O_RDONLY)
        XCTAssertEqual(try file.size(), 10)
        XCTAssertEqual(try file.read(at: 2, count: 3), Array("234".utf8))
        XCTAssertEqual(try file.read(at: 8, count: 100), Array("89".utf8))
        XCTAssertEqual(try file.read(at: 10, count: 4), [])
        XCTAssertEqual(try file.read(at: 1 << 40, count: 4), [])
        XCTAssertEqual(try file.read(at: 0, count: 0), [])
        XCTAssertThrowsError(try file.read(at: UInt64.max - 1, count: 4))
    }
}

/// A file mapped in this process and its load bias, from `/proc/self/maps`: where its
/// mapping from file offset 0 starts. That is the bias for a position-independent executable
/// or a shared library, whose first segment has address 0 and offset 0.
struct LoadedObject {
    var path: String
    var bias: UInt64

    /// The path of this test program.
    static func programPath() throws -> String {
        let resolved = try XCTUnwrap(realpath("/proc/self/exe", nil))
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// This test program and the C library.
    static func all() throws -> [LoadedObject] {
        let program = try programPath()
        let maps = try FileDescriptor.open("/proc/self/maps", O_RDONLY).readToEnd()
        var objects: [LoadedObject] = []
        for line in String(decoding: maps, as: UTF8.self).split(separator: "\n") {
            // start-end perms offset dev inode path
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 6, fields[2] == "00000000", let path = fields.last.map(String.init),
                path == program || path.contains("/libc.so"), !objects.contains(where: { $0.path == path }),
                let start = fields[0].split(separator: "-").first.flatMap({ UInt64($0, radix: 16) })
            else { continue }
            objects.append(LoadedObject(path: path, bias: start))
        }
        return objects
    }
}

/// A C entry point whose address this test takes: the program's load bias checked.
@_cdecl("ebpf_unit_tests_marker")
public func ebpfUnitTestsMarker() {}
