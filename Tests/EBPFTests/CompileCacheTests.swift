@_spi(Generator) @testable import EBPF
import Foundation
import XCTest
@testable import EBPFKernel

/// The compile cache: a second start compiles nothing and delivers the same events; what it
/// loads is what libbcc compiled; an entry never serves another kernel, text or owner.
final class CompileCacheTests: XCTestCase {
    var directory = ""
    var cache: CompileCache { CompileCache(directory: directory) }

    override func setUp() {
        directory = NSTemporaryDirectory() + "ebpf-cache-test-\(UUID().uuidString)"
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    var entries: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter {
            $0.hasSuffix(CompileCache.suffix)
        }
    }

    /// Attaches three probes through a wrapper using `cache` (compiled by clang, or emitted
    /// by `builder`), makes their syscalls and returns the events and whether their program
    /// came from the cache.
    func traceOnce(cache: CompileCache?, builder: ProbeBuilder = .compiler) throws -> (
        events: [String], fromCache: Bool, compiles: Int
    ) {
        let b = try EBPFWrapper(cache: cache, probeBuilder: builder)
        defer { b.close() }
        let events = Collected<ProbeEvent>()
        let (probes, compiles) = try attachThreeSyscallProbes(b, into: events)
        let directory = open("/", O_RDONLY | O_DIRECTORY)
        defer { close(directory) }
        let cwd = open(".", O_RDONLY | O_DIRECTORY)
        defer { close(cwd) }
        _ = getppid()
        XCTAssertEqual(getpgid(ThisProcess.pid), getpgrp())
        XCTAssertEqual(fchdir(directory), 0)
        XCTAssertEqual(fchdir(cwd), 0)
        XCTAssertTrue(waitUntil { events.count >= 4 }, "\(events.all)")
        XCTAssertTrue(waitForDeliveryOfEverythingWrittenSoFar(b))
        events.all.forEach { assertHeader($0) }
        // Descriptor numbers differ between runs; the rest of each event must not.
        let normalized = events.all.map { event in
            event.eventName + " "
                + event.fields.map {
                    "\($0.name)=\($0.name == "fd" ? "\(Int(directory) == $0.value.intValue ? "dir" : "cwd")" : "\($0.value)")"
                }
                .joined(separator: " ")
        }
        // Each probe has its own buffer: the order across probes is the polling thread's.
        return (normalized.sorted(), probes.allSatisfy { $0.module.module.isFromCache }, compiles)
    }

    func testASecondStartCompilesNothingAndDeliversTheSameEvents() throws {
        try requireKernel()
        let cold = try traceOnce(cache: cache)
        XCTAssertFalse(cold.fromCache)
        XCTAssertEqual(cold.compiles, 1)
        XCTAssertEqual(entries.count, 1, "one entry for the one program")
        XCTAssertEqual(
            cold.events,
            [
                "syscalls:sys_enter_fchdir fd=cwd", "syscalls:sys_enter_fchdir fd=dir",
                "syscalls:sys_enter_getpgid pid=\(ThisProcess.pid)", "syscalls:sys_enter_getppid ",
            ])

        let cached = try traceOnce(cache: cache)
        XCTAssertTrue(cached.fromCache)
        XCTAssertEqual(cached.compiles, 0, "nothing compiled")
        XCTAssertEqual(cached.events, cold.events)
        XCTAssertEqual(entries.count, 1)

        let uncached = try traceOnce(cache: nil)
        XCTAssertFalse(uncached.fromCache)
        XCTAssertEqual(uncached.compiles, 1)
        XCTAssertEqual(uncached.events, cold.events)

        let emitted = try traceOnce(cache: cache, builder: .emitter)
        XCTAssertFalse(emitted.fromCache)
        XCTAssertEqual(emitted.compiles, 0, "emitted, not compiled")
        XCTAssertEqual(emitted.events, cold.events)
        XCTAssertEqual(entries.count, 1, "nothing stored for an emitted program")
    }

    /// What the cache keeps is what libbcc compiled, and what the kernel runs from it is what
    /// it runs from libbcc's own load: the verifier's rewritten instructions (bpftool's
    /// `dump xlated`) of both, map ids numbered in order of use, are the same text.
    func testACachedLoadRunsTheInstructionsLibbccCompiled() throws {
        try requireKernel()
        let format = try TracepointFormat.load(category: "syscalls", name: "sys_enter_openat")
        let program = try ProbeProgram(tracepoint: format, filter: ProbeFilter(processID: 1, processName: "cat"))
        let compiled = try BPFModule(text: program.text, cflags: [], cache: cache)
        defer { compiled.close() }
        XCTAssertFalse(compiled.isFromCache)
        let kept = try BPFModule(text: program.text, cflags: [], cache: cache)
        defer { kept.close() }
        XCTAssertTrue(kept.isFromCache)
        XCTAssertEqual(try kept.functionNames, try compiled.functionNames)
        XCTAssertEqual(try kept.tableNames, try compiled.tableNames)
        for table in try compiled.tableNames {
            let (a, b) = (try compiled.table(table), try kept.table(table))
            XCTAssertEqual(
                [a.keySize, a.leafSize, a.maxEntries, Int(a.type.rawValue)],
                [b.keySize, b.leafSize, b.maxEntries, Int(b.type.rawValue)], table)
            XCTAssertEqual(a.leafDescription, b.leafDescription)
        }

        func translated(_ module: BPFModule) throws -> String {
            let before = BPFTool.ids("prog", heldBy: getpid())
            try module.withFunction(program.functionName, type: .tracepoint) { _ in }
            let id = try XCTUnwrap(BPFTool.ids("prog", heldBy: getpid()).subtracting(before).first)
            let (_, dump) = try runToCompletion("/usr/sbin/bpftool", ["prog", "dump", "xlated", "id", String(id)])
            var ids: [String] = []
            // Instruction lines only: libbcc's load carries BTF, whose source lines bpftool
            // interleaves (`; u64 ebpf_id = …`); a cached load has none.
            let instructions = dump.split(separator: "\n").filter {
                $0.range(of: #"^\s*\d+: \("#, options: .regularExpression) != nil
            }
            return instructions.map { line in
                var text = String(line)
                while let range = text.range(of: #"map\[id:\d+\]"#, options: .regularExpression) {
                    let id = String(text[range])
                    if !ids.contains(id) { ids.append(id) }
                    text.replaceSubrange(range, with: "map#\(ids.firstIndex(of: id)!)")
                }
                return text
            }.joined(separator: "\n")
        }
        let fromLibbcc = try translated(compiled)
        XCTAssertTrue(fromLibbcc.contains("map#1"), "two maps referenced: \(fromLibbcc)")
        XCTAssertGreaterThan(fromLibbcc.split(separator: "\n").count, 20)
        XCTAssertEqual(try translated(kept), fromLibbcc)
    }

    func testAnEntryServesOnlyItsOwnKernelTextAndFlags() throws {
        try requireKernel()
        let text =
            "BPF_ARRAY(counts, u64, 4);\nint f(void *ctx) { int k = 1; u64 *v = counts.lookup(&k); if (v) *v += 1; return 0; }"
        let environment = CompileCache.environment()
        let key = CompileCache.key(text: text, cflags: [], environment: environment)
        _ = try BPFModule(text: text, cflags: [], cache: cache)
        let stored = try XCTUnwrap(cache.entry(for: key))
        XCTAssertEqual(stored.functions.map(\.name), ["f"])
        XCTAssertEqual(stored.maps.map(\.table.name), ["counts"])
        XCTAssertEqual(stored.functions[0].mapReferences.map(\.map), [0])

        let release = CacheFiles.kernelRelease()
        XCTAssertTrue(environment.contains("kernel \(release) "), environment)
        // The headers libbcc compiles against, resolved, and the libbcc file, each with its
        // size and time: a package upgrade changes the key.
        let headers = try XCTUnwrap(realpath("/lib/modules/\(release)/build/Makefile", nil))
        defer { free(headers) }
        XCTAssertTrue(environment.contains("headers \(String(cString: headers)) "), environment)
        XCTAssertTrue(environment.contains("libbcc /"), environment)
        let file = directory + ".identity"
        XCTAssertTrue(FileManager.default.createFile(atPath: file, contents: Data("a".utf8)))
        defer { unlink(file) }
        let identity = CacheFiles.identity(of: file)
        var times = [timespec(tv_sec: 1_000_000, tv_nsec: 0), timespec(tv_sec: 1_000_000, tv_nsec: 0)]
        XCTAssertEqual(utimensat(AT_FDCWD, file, &times, 0), 0)
        XCTAssertNotEqual(CacheFiles.identity(of: file), identity, "a replaced file is another identity")
        let others = [
            CompileCache.key(
                text: text, cflags: [],
                environment: environment.replacingOccurrences(of: release, with: release + "-other")),
            CompileCache.key(text: text + " ", cflags: [], environment: environment),
            CompileCache.key(text: text, cflags: ["-DX=1"], environment: environment),
        ]
        for other in others {
            XCTAssertNotEqual(cache.path(for: other), cache.path(for: key))
            XCTAssertNil(cache.entry(for: other), "another kernel, text or flags: a miss")
            // Even holding this entry's bytes, another key's file is refused (the whole key is compared).
            try FileManager.default.copyItem(atPath: cache.path(for: key), toPath: cache.path(for: other))
            XCTAssertNil(cache.entry(for: other))
        }
        XCTAssertNotNil(cache.entry(for: key))

        // A damaged or truncated entry is a miss, and the compile that follows replaces it.
        let path = cache.path(for: key)
        var bytes = try XCTUnwrap(FileManager.default.contents(atPath: path))
        bytes[bytes.count / 2] ^= 0x40
        try bytes.write(to: URL(fileURLWithPath: path))
        XCTAssertNil(cache.entry(for: key))
        try bytes.prefix(bytes.count - 9).write(to: URL(fileURLWithPath: path))
        XCTAssertNil(cache.entry(for: key))
        let compilesBefore = BPFModule.compileCount.load(ordering: .relaxed)
        XCTAssertFalse(try BPFModule(text: text, cflags: [], cache: cache).isFromCache)
        XCTAssertEqual(BPFModule.compileCount.load(ordering: .relaxed) - compilesBefore, 1)
        XCTAssertNotNil(cache.entry(for: key))

        // Another user's file, or one others may write, is never loaded.
        XCTAssertEqual(chmod(path, 0o620), 0)
        XCTAssertNil(cache.entry(for: key))
        XCTAssertEqual(chmod(path, 0o600), 0)
        XCTAssertEqual(chown(path, 65534, 65534), 0)
        XCTAssertNil(cache.entry(for: key))
        XCTAssertEqual(chown(path, geteuid(), getegid()), 0)
        XCTAssertNotNil(cache.entry(for: key))
        XCTAssertEqual(chmod(directory, 0o777), 0)
        XCTAssertNil(cache.entry(for: key), "a directory others can write is not used")
        XCTAssertEqual(chmod(directory, 0o700), 0)

        cache.removeAll()
        XCTAssertTrue(entries.isEmpty)
    }

    func testProgramsWithPinnedSharedOrNestedMapsAreNeverKept() throws {
        try requireKernel()
        let text = """
            BPF_TABLE_SHARED("array", int, u64, shared_counts, 4);
            int f(void *ctx) { int k = 1; u64 *v = shared_counts.lookup(&k); if (v) *v += 1; return 0; }
            """
        XCTAssertFalse(CompileCache.canKeep(text: text))
        XCTAssertFalse(CompileCache.canKeep(text: "BPF_TABLE_PINNED(\"hash\", u32, u64, m, 8, \"/sys/fs/bpf/m\");"))
        XCTAssertFalse(CompileCache.canKeep(text: "BPF_ARRAY(inner, int, 1); BPF_ARRAY_OF_MAPS(outer, \"inner\", 2);"))
        XCTAssertTrue(CompileCache.canKeep(text: "BPF_HASH(counts, u32, u64);"))
        // Markers found as bytes anywhere: first, last, alone; nothing found in shorter text.
        XCTAssertFalse(CompileCache.canKeep(text: "_OF_MAPS and more"))
        XCTAssertFalse(CompileCache.canKeep(text: "int x; BPF_TABLE(\"extern\""))
        XCTAssertFalse(CompileCache.canKeep(text: "_PINNED"))
        XCTAssertTrue(CompileCache.canKeep(text: "_PINNE"))
        XCTAssertTrue(CompileCache.canKeep(text: ""))
        XCTAssertTrue(CompileCache.canKeep(text: "é_PINNEd \"extern \" BPF_TABLE_PUBLI"))
        for _ in 0..<2 {
            let module = try BPFModule(text: text, cflags: [], cache: cache)
            XCTAssertFalse(module.isFromCache)
            module.close()
        }
        XCTAssertTrue(entries.isEmpty)
    }

    /// Entries beyond ``CompileCache/capacity`` go, least recently used first: a program with
    /// a pid filter is a new entry for every pid.
    func testTheLeastRecentlyUsedEntriesGoBeyondTheCapacity() {
        let object = CompiledObject(license: "GPL", kernelVersion: 0, maps: [], functions: [])
        for index in 0..<CompileCache.capacity {
            cache.store(object, for: "key \(index)")
            // Stored a second apart, long ago: file times are as coarse as the kernel's tick.
            var times = [timespec](repeating: timespec(tv_sec: 1_000_000 + index, tv_nsec: 0), count: 2)
            XCTAssertEqual(utimensat(AT_FDCWD, cache.path(for: "key \(index)"), &times, 0), 0)
        }
        XCTAssertEqual(entries.count, CompileCache.capacity)
        XCTAssertNotNil(cache.entry(for: "key 0"), "read: now the most recently used")
        cache.store(object, for: "key \(CompileCache.capacity)")
        XCTAssertEqual(entries.count, CompileCache.capacity)
        XCTAssertNil(cache.entry(for: "key 1"), "the least recently used is gone")
        XCTAssertNotNil(cache.entry(for: "key 0"))
        XCTAssertNotNil(cache.entry(for: "key 2"))
        XCTAssertNotNil(cache.entry(for: "key \(CompileCache.capacity)"))
    }

    func testEncodingRoundTripsAndRefusesDamage() throws {
        let object = CompiledObject(
            license: "GPL", kernelVersion: 0x06_0100,
            maps: [
                .init(
                    table: TableInfo(
                        name: "events", type: .perfEventArray, keySize: 4, leafSize: 4, maxEntries: 2,
                        keyDescription: "\"int\"", leafDescription: nil, submittedFields: ["pid#u32"]),
                    flags: 0)
            ],
            functions: [
                .init(
                    name: "f", instructions: [0x0000_0000_0000_1118, 0, 0x0000_0000_0000_0095],
                    mapReferences: [.init(instruction: 0, map: 0)])
            ])
        let bytes = object.encoded(key: "k")
        XCTAssertEqual(CompiledObject.decode(bytes, key: "k"), object)
        XCTAssertNil(CompiledObject.decode(bytes, key: "K"))
        for length in 0..<bytes.count {
            XCTAssertNil(CompiledObject.decode(Array(bytes.prefix(length)), key: "k"), "truncated to \(length)")
        }
        XCTAssertEqual(object.instructions(of: "f", mapDescriptors: [7])?[0], 0x0000_0007_0000_1118)
        XCTAssertNil(object.instructions(of: "g", mapDescriptors: [7]))
    }

    func testReferencesToDescriptorsThatAreNotTheProgramsMapsAreNotKept() {
        // ld_imm64 r1, map fd 9: not one of the program's maps (fd 3).
        XCTAssertThrowsError(
            try CompiledObject(
                functions: [(name: "f", instructions: [0x0000_0009_0000_1118, 0, 0x95])], maps: [], mapDescriptors: [3],
                license: "GPL", kernelVersion: 0)
        ) { error in
            XCTAssertEqual(error as? CompiledObject.NotRelocatable, .init(function: "f", instruction: 0))
        }
    }
}
