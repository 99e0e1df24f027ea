@_spi(Generator) @testable import EBPF
import Foundation
import XCTest

/// The BTF reader on this kernel's `/sys/kernel/btf/vmlinux`, compared with what bpftool
/// (libbpf's reader) prints of the same file, and on hostile bytes.
final class BTFTests: XCTestCase {
    /// bpftool's raw dump, parsed: each type's `[id] KIND 'name' …` line and the member or
    /// parameter lines under it.
    private static let dump: Result<[UInt32: (line: String, entries: [String])], Error> = Result {
        let bpftool = try ChildProcess(
            "/usr/sbin/bpftool", ["btf", "dump", "file", "/sys/kernel/btf/vmlinux", "format", "raw"])
        guard bpftool.wait() == .exited(0) else { throw POSIXError(.EIO) }
        var types: [UInt32: (String, [String])] = [:]
        var current: UInt32?
        for line in bpftool.standardOutput.split(separator: "\n") {
            if line.hasPrefix("["), let close = line.firstIndex(of: "]"),
                let id = UInt32(line[line.index(after: line.startIndex)..<close])
            {
                current = id
                types[id] = (String(line), [])
            } else if let current, line.hasPrefix("\t") {
                types[current]?.1.append(line.trimmingCharacters(in: .whitespaces))
            }
        }
        return types
    }

    private func bpftool(_ id: BTF.TypeID) throws -> (line: String, entries: [String]) {
        try XCTUnwrap(try Self.dump.get()[id], "bpftool has no type \(id)")
    }

    func testEveryStructsMembersAsBpftoolReadsThem() throws {
        try requireKernel()
        let btf = try BTF.kernel()
        XCTAssertEqual(btf.typeCount, try Self.dump.get().count)
        for name in ["sock_common", "sock", "task_struct", "file", "sockaddr_in"] {
            let id = try XCTUnwrap(btf.compositeType(named: name), name)
            let members = try XCTUnwrap(btf.members(of: id))
            let (line, entries) = try bpftool(id)
            XCTAssertTrue(
                line.hasPrefix(
                    "[\(id)] STRUCT '\(name)' size=\(try XCTUnwrap(btf.size(of: id))) vlen=\(members.count)"), line)
            XCTAssertEqual(
                members.map { member in
                    "'\(member.name.isEmpty ? "(anon)" : member.name)' type_id=\(member.type) bits_offset=\(member.bitOffset)"
                        + (member.bitFieldSize.map { " bitfield_size=\($0)" } ?? "")
                }, entries, name)
        }
    }

    func testFunctionPrototypesAsBpftoolReadsThem() throws {
        try requireKernel()
        let btf = try BTF.kernel()
        for name in ["tcp_connect", "do_sys_openat2", "vfs_read", "security_file_open"] {
            let function = try XCTUnwrap(btf.function(named: name), name)
            let (line, _) = try bpftool(function.id)
            XCTAssertTrue(line.hasPrefix("[\(function.id)] FUNC '\(name)' type_id="), line)
            let prototypeID = try XCTUnwrap(UInt32(line.split(separator: "type_id=")[1].prefix { $0.isNumber }))
            let (prototype, parameters) = try bpftool(prototypeID)
            XCTAssertTrue(
                prototype.contains("ret_type_id=\(function.returnType) vlen=\(function.parameters.count)"), prototype)
            XCTAssertEqual(function.parameters.map { "'\($0.name)' type_id=\($0.type)" }, parameters)
        }
        XCTAssertNil(btf.function(named: "no_such_function_here"))
    }

    /// Offsets through nested anonymous members, and C spellings, for what a probe on
    /// `tcp_connect` reads: the family and ports of its socket.
    func testMembersByPathAndTypeNames() throws {
        try requireKernel()
        let btf = try BTF.kernel()
        let connect = try XCTUnwrap(btf.function(named: "tcp_connect"))
        XCTAssertEqual(connect.parameters.map(\.name), ["sk"])
        XCTAssertEqual(btf.typeName(of: connect.parameters[0].type), "struct sock *")
        XCTAssertEqual(btf.typeName(of: connect.returnType), "int")
        guard case .pointer(let sockID) = btf.shape(of: connect.parameters[0].type) else {
            return XCTFail("sk is a pointer")
        }
        // bpftool: skc_family is sock_common's member at bit 128, __sk_common is sock's first.
        let family = try XCTUnwrap(btf.member(["__sk_common", "skc_family"], of: sockID))
        XCTAssertEqual(family.byteOffset, 16)
        XCTAssertEqual(btf.typeName(of: family.type), "short unsigned int")
        XCTAssertEqual(btf.shape(of: family.type), .integer(size: 2, signed: false))
        let port = try XCTUnwrap(btf.member(["__sk_common", "skc_dport"], of: sockID))
        XCTAssertEqual(btf.typeName(of: port.type), "__be16")
        XCTAssertEqual(btf.size(of: port.type), 2)
        let openat = try XCTUnwrap(btf.function(named: "do_sys_openat2"))
        XCTAssertEqual(openat.parameters.map(\.name), ["dfd", "filename", "how"])
        XCTAssertEqual(
            openat.parameters.map { btf.typeName(of: $0.type) }, ["int", "const char *", "struct open_how *"])
        XCTAssertEqual(btf.shape(of: openat.parameters[0].type), .integer(size: 4, signed: true))
    }

    func testHostileBytesAreRefusedWithTheReason() throws {
        func error(_ bytes: [UInt8]) -> String? {
            do {
                _ = try BTF(parsing: bytes)
                return nil
            } catch {
                return error.message
            }
        }
        XCTAssertEqual(error([]), "not valid BTF: 0 bytes, shorter than its header")
        var header: [UInt8] = [0x9F, 0xEB, 1, 0, 24, 0, 0, 0] + [UInt8](repeating: 0, count: 16)
        XCTAssertNil(error(header), "an empty BTF is valid")
        header[2] = 2
        XCTAssertEqual(error(header), "not valid BTF: version 2, not 1")
        header[2] = 1
        header[12] = 12  // 12 bytes of types that are not there
        XCTAssertEqual(error(header), "not valid BTF: its type section (12 bytes at 24) runs past its 24 bytes")
        // One struct claiming 1000 members with no room for them.
        let record: [UInt8] = [0, 0, 0, 0] + [0xE8, 0x03, 0, 0x04] + [8, 0, 0, 0]
        var oneStruct: [UInt8] = [0x9F, 0xEB, 1, 0, 24, 0, 0, 0, 0, 0, 0, 0, 12, 0, 0, 0, 12, 0, 0, 0, 1, 0, 0, 0]
        oneStruct += record + [0]
        XCTAssertEqual(
            error(oneStruct),
            "not valid BTF: type 1 (at byte 0 of its types): its 1000 entries run past the type section")
    }

    /// Types that refer to themselves parse (the references are in range) and every lookup on
    /// them answers nil or a bounded name instead of recursing forever; the fuzzer found the
    /// self-nested array.
    func testSelfReferringTypesAnswerWithoutRecursingForever() throws {
        func word(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value.littleEndian, Array.init) }
        let types: [UInt8] =
            // 1: an array of 2 elements of type 1, indexed by type 1
            word(0) + word(3 << 24) + word(0) + word(1) + word(1) + word(2)
            // 2 and 3: typedefs of each other, 4: a pointer to 2
            + word(0) + word(8 << 24) + word(3) + word(0) + word(8 << 24) + word(2)
            + word(0) + word(2 << 24) + word(2)
        let header: [UInt8] =
            [0x9F, 0xEB, 1, 0] + word(24) + word(0) + word(UInt32(types.count)) + word(UInt32(types.count)) + word(1)
        let btf = try BTF(parsing: header + types + [0])
        XCTAssertEqual(btf.typeCount, 4)
        XCTAssertEqual(btf.shape(of: 1), .array(element: 1, count: 2))
        XCTAssertNil(btf.size(of: 1))
        XCTAssertEqual(btf.shape(of: 2), .other)
        XCTAssertNil(btf.size(of: 2))
        XCTAssertNil(btf.members(of: 3))
        XCTAssertEqual(btf.shape(of: 4), .pointer(to: 2))
        XCTAssertEqual(btf.size(of: 4), 8)
        XCTAssertEqual(btf.typeName(of: 1), "?" + String(repeating: "[2]", count: 16))
    }
}
