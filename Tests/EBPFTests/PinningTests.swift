@_spi(Generator) @testable import EBPF
import Foundation
import XCTest

/// Pins on the BPF filesystem: a map pinned by this process is read and updated by another
/// (this test binary again), outlives the wrapper that made it, and goes with its pin.
final class PinningTests: XCTestCase {
    static let childRole = "EBPF_TEST_PIN_CHILD"
    static let childTest = "EBPFTests.PinningTests/testAPinnedMapIsSharedWithAnotherProcessAndOutlivesItsMaker"

    func testAPinnedMapIsSharedWithAnotherProcessAndOutlivesItsMaker() throws {
        if let path = ProcessInfo.processInfo.environment[Self.childRole] { Self.runAsChild(path) }
        try requireKernel()
        let path = BPFFilesystem.standardMountPoint + "/ebpf-test-\(getpid())-counts"
        defer { try? BPFFilesystem.unpin(path) }
        do {
            let b = try EBPFWrapper(text: "BPF_HASH(counts, u32, u64, 16);")
            defer { b.close() }
            let counts = try b.table("counts", key: UInt32.self, value: UInt64.self)
            try counts.updateValue(41, forKey: 7)
            try counts.pin(at: path)
            XCTAssertEqual(try TypedTable<UInt32, UInt64>.withID(try counts.id)[7], 41, "opened by id")
            // Another process reads 41 and stores 42 under 8.
            XCTAssertEqual(try childOutput(path), "READ 41\n")
            XCTAssertEqual(try counts[8], 42)
            XCTAssertThrowsError(try counts.pin(at: path)) {
                XCTAssertTrue("\($0)".contains("something is pinned there already"), "\($0)")
            }
        }
        // The wrapper is closed: the pin keeps the map.
        XCTAssertEqual(try childOutput(path), "READ 41\n")
        let again = try TypedTable<UInt32, UInt64>.pinned(at: path)
        XCTAssertEqual(
            try again.snapshot().map { [$0.key: $0.value] }.reduce(into: [:]) { $0.merge($1) { a, _ in a } },
            [7: 41, 8: 42])
        XCTAssertThrowsError(try TypedTable<UInt64, UInt64>.pinned(at: path)) {
            XCTAssertEqual(($0 as? EBPFError)?.code, .decodingFailed, "\($0)")
        }
        try BPFFilesystem.unpin(path)
        XCTAssertThrowsError(try TypedTable<UInt32, UInt64>.pinned(at: path)) {
            XCTAssertEqual(($0 as? EBPFError)?.code, .notFound, "\($0)")
        }
        XCTAssertThrowsError(try BPFFilesystem.unpin(path)) { XCTAssertEqual(($0 as? EBPFError)?.code, .notFound) }
    }

    func testPathsOffABPFFilesystemAreRefused() throws {
        try requireKernel()
        let b = try EBPFWrapper(text: "BPF_ARRAY(slots, u64, 4);")
        defer { b.close() }
        let slots = try b.table("slots", key: UInt32.self, value: UInt64.self)
        for (path, expected) in [
            ("/tmp/ebpf-pin", "/tmp is not a directory of a BPF filesystem"),
            ("relative/pin", "must be absolute"),
            (BPFFilesystem.standardMountPoint + "/../x", "hold no '.' or '..' components"),
        ] {
            XCTAssertThrowsError(try slots.pin(at: path)) { error in
                XCTAssertEqual((error as? EBPFError)?.code, .invalidArgument)
                XCTAssertTrue("\(error)".contains(expected), "\(path): \(error)")
            }
        }
    }

    /// A program pinned and opened again by path and by id; an XDP link pinned stays
    /// attached after its wrapper closes, until unpinned.
    func testProgramsAndLinksPin() throws {
        try requireKernel()
        let veth = try VethPair()
        defer { veth.close() }
        let directory = BPFFilesystem.standardMountPoint + "/ebpf-test-\(getpid())"
        let (programPath, linkPath) = (directory + "-program", directory + "-link")
        defer { [programPath, linkPath].forEach { try? BPFFilesystem.unpin($0) } }
        var programID: UInt32 = 0
        do {
            let b = try EBPFWrapper(
                text: NetworkProgramTests.xdpCounter, cflags: ["-DCOUNTED_PORT=1", "-DDROPPED_PORT=40006"])
            defer { b.close() }
            let function = try b.loadFunction("on_packet", type: .xdp)
            try function.pin(at: programPath)
            let byPath = try LoadedFunction.pinned(at: programPath)
            XCTAssertEqual([byPath.name, byPath.type.description], ["on_packet", "xdp"])
            XCTAssertEqual(try LoadedFunction.withID(try function.id).id, try function.id)
            programID = try function.id
            XCTAssertEqual(try byPath.id, programID)
            let attachment = try b.attach(function: "on_packet", to: .xdp(veth.hostInterface))
            try attachment.pin(at: linkPath)
            let tracepoint = try EBPFWrapper(text: "int on_tp(void *ctx) { return 0; }")
            defer { tracepoint.close() }
            let perfEvent = try tracepoint.attach(function: "on_tp", to: .tracepoint("syscalls:sys_enter_getppid"))
            XCTAssertThrowsError(try perfEvent.pin(at: directory + "-perf")) {
                XCTAssertEqual(($0 as? EBPFError)?.code, .notSupported, "\($0)")
            }
        }
        // The wrapper closed; the pinned link still drops.
        let receiver = VethPair.udpSocket(address: veth.hostAddress, port: 40_006)
        let sender = veth.peer.run { VethPair.udpSocket(address: veth.peerAddress) }
        defer { [receiver, sender].forEach { _ = close($0) } }
        XCTAssertEqual(BPFTool.xdpProgramIDs(veth.hostInterface), [Int(programID)])
        try BPFFilesystem.unpin(linkPath)
        XCTAssertTrue(waitUntil { BPFTool.xdpProgramIDs(veth.hostInterface).isEmpty }, "unpinning detached the link")
        VethPair.send(2, [3], from: sender, to: veth.hostAddress, port: 40_006)
        XCTAssertEqual(VethPair.receive(2, from: receiver), [[3], [3]])
    }

    /// `BPF_TABLE_PINNED` with a compile cache: compiled each time (the cache keeps no
    /// program whose map outlives it), the pinned map shared by both loads. The map is pinned
    /// first: libbcc 0.18 only opens a pinned map ("map not found" otherwise); later releases
    /// also create it.
    func testBPFTablePinnedWorksWithACompileCache() throws {
        try requireKernel()
        let path = BPFFilesystem.standardMountPoint + "/ebpf-test-\(getpid())-table-pinned"
        let directory = NSTemporaryDirectory() + "ebpf-pinned-cache-\(getpid())"
        defer {
            try? BPFFilesystem.unpin(path)
            try? FileManager.default.removeItem(atPath: directory)
        }
        let cache = CompileCache(directory: directory)
        let text = "BPF_TABLE_PINNED(\"hash\", u32, u64, shared, 8, \"\(path)\");"
        do {
            let maker = try EBPFWrapper(text: "BPF_HASH(shared, u32, u64, 8);")
            defer { maker.close() }
            try maker.table("shared", key: UInt32.self, value: UInt64.self).pin(at: path)
        }
        for round in 0..<2 {
            let b = try EBPFWrapper(text: text, cache: cache)
            defer { b.close() }
            let shared = try b.table("shared", key: UInt32.self, value: UInt64.self)
            XCTAssertEqual(try shared[1], round == 0 ? nil : 10)
            try shared.updateValue(10, forKey: 1)
        }
        XCTAssertEqual(try TypedTable<UInt32, UInt64>.pinned(at: path)[1], 10)
        XCTAssertEqual((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [], [], "an entry was kept")
    }

    /// What a child that opened `path` printed.
    func childOutput(_ path: String) throws -> String {
        let child = try ChildProcess(
            try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"), [Self.childTest],
            environment: [Self.childRole: path])
        XCTAssertEqual(child.wait(), .exited(0), child.standardError)
        return child.standardOutput.split(separator: "\n").filter { $0.hasPrefix("READ ") }.map { $0 + "\n" }.joined()
    }

    /// The child's role: read key 7 of the map pinned at `path`, store 42 under 8.
    static func runAsChild(_ path: String) -> Never {
        do {
            let counts = try TypedTable<UInt32, UInt64>.pinned(at: path)
            print("READ \(try counts[7].map(String.init) ?? "nothing")")
            try counts.updateValue(42, forKey: 8)
            fflush(nil)
            exit(0)
        } catch {
            print("FAILED \(error)")
            fflush(nil)
            exit(1)
        }
    }
}

extension BPFTool {
    /// The ids of the XDP programs on `interface` (`bpftool net show dev`).
    static func xdpProgramIDs(_ interface: String) -> [Int] {
        guard let entries = try? json(["net", "show", "dev", interface]) else { return [] }
        return entries.flatMap { ($0["xdp"] as? [[String: Any]]) ?? [] }.compactMap { $0["id"] as? Int }
    }
}
