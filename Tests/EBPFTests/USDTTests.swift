@_spi(Generator) @testable import EBPF
import Foundation
import XCTest

/// USDT probes of a fixture built in the test (Fixtures/usdt): listed by path and by pid,
/// attached by native C with `bpf_usdt_readarg`, with and without a semaphore.
final class USDTTests: XCTestCase {
    /// The two probes, their arguments as `<sys/sdt.h>` noted them, and their sites at the
    /// addresses binutils' `readelf -n` reads from the same notes.
    func testProbesOfABinaryAndOfAProcess() throws {
        try requireKernel()
        let path = try USDTFixture.path.get()
        let probes = try USDTProbe.all(in: path).sorted { $0.name < $1.name }
        XCTAssertEqual(probes.map(\.description), ["ebpftest:gated", "ebpftest:kinds", "ebpftest:plain"])
        XCTAssertEqual(probes.map(\.binaryPath), [path, path, path])
        let gated = probes[0]
        let plain = probes[2]
        XCTAssertEqual(plain.arguments.map(\.size), [4, 8, 8])
        XCTAssertEqual(plain.arguments.map(\.isSigned), [true, true, false])
        XCTAssertEqual(gated.arguments.map(\.size), [4, 4])
        XCTAssertEqual(gated.arguments.map(\.isSigned), [true, true])
        XCTAssertFalse(plain.hasSemaphore)
        XCTAssertTrue(gated.hasSemaphore)

        let notes = try USDTFixture.notes(path)
        XCTAssertEqual(plain.addresses, [try XCTUnwrap(notes["plain"]?.location)])
        XCTAssertEqual(gated.addresses, [try XCTUnwrap(notes["gated"]?.location)])
        XCTAssertEqual(plain.arguments.map(\.description), notes["plain"]?.arguments.map(USDTFixture.registerNamed))
        XCTAssertEqual(gated.arguments.map(\.description), notes["gated"]?.arguments.map(USDTFixture.registerNamed))

        let fixture = try USDTFixture()
        defer { fixture.stop() }
        let ofProcess = try USDTProbe.all(pid: fixture.pid).filter { $0.provider == "ebpftest" }
        XCTAssertEqual(Set(ofProcess.map(\.description)), ["ebpftest:gated", "ebpftest:kinds", "ebpftest:plain"])
        XCTAssertEqual(Set(ofProcess.map(\.addresses)), Set(probes.map(\.addresses)))
        XCTAssertEqual(Set(ofProcess.map(\.binaryPath)), [path], "the path the process knows it by")
    }

    /// By path: both probes' arguments, exact, for every round while attached; the gated
    /// probe fires only while attached (its semaphore raised by the kernel), and the
    /// semaphore is back to 0 after `close()`.
    func testNativeProgramReadsTheArgumentsOfEveryProcessRunningTheBinary() throws {
        try requireKernel()
        let fixture = try USDTFixture()
        defer { fixture.stop() }
        XCTAssertEqual(fixture.fire(), 0, "no semaphore raised before attaching")
        let path = try USDTFixture.path.get()
        let b = try EBPFWrapper(
            text: Self.program,
            usdt: [
                "on_plain": .usdt("ebpftest:plain", in: path),
                "on_gated": .usdt("gated", in: path),
            ])
        XCTAssertEqual(b.session.attachments.map(\.point.kind), [.usdt, .usdt])
        XCTAssertEqual(
            b.session.attachments.map(\.point.description),
            ["usdt:\(path):ebpftest:gated", "usdt:\(path):ebpftest:plain"], "by function name")
        for _ in 2...4 { XCTAssertEqual(fixture.fire(), 1, "the kernel raised the semaphore") }
        try assertRounds(2...4, of: b)
        b.close()
        XCTAssertEqual(fixture.fire(), 0, "the semaphore is lowered again on detach")
    }

    /// By pid alone: the probes of whatever the process maps; another process running the
    /// same binary is not traced, nor is its semaphore raised.
    func testNativeProgramByProcess() throws {
        try requireKernel()
        let fixture = try USDTFixture()
        defer { fixture.stop() }
        let other = try USDTFixture()
        defer { other.stop() }
        let b = try EBPFWrapper(
            text: Self.program,
            usdt: [
                "on_plain": .usdt("ebpftest:plain", pid: fixture.pid),
                "on_gated": .usdt("ebpftest:gated", pid: fixture.pid),
            ])
        defer { b.close() }
        XCTAssertEqual(other.fire(), 0, "only the traced process's semaphore is raised")
        XCTAssertEqual(fixture.fire(), 1)
        XCTAssertEqual(fixture.fire(), 1)
        try assertRounds(1...2, of: b)
    }

    /// No C: both probes' arguments as named fields of each event, the third of `plain` as
    /// the string it points to; the gated probe fires because attaching raised its semaphore.
    func testClosureProbesDeliverTheArgumentsOfEachFiring() throws {
        try requireKernel()
        let path = try USDTFixture.path.get()
        let fixture = try USDTFixture()
        defer { fixture.stop() }
        let b = try EBPFWrapper(cache: nil)
        defer { b.close() }
        let events = Collected<ProbeEvent>()
        // Argument 3 of plain is a string; gated has two arguments, so the choice is not its.
        let probes = try b.attach(
            [.usdt("ebpftest:plain", in: path), .usdt("gated", in: path)],
            options: ProbeOptions(arguments: ArgumentReading(strings: [3]))
        ) {
            events.append($0)
        }
        XCTAssertEqual(
            probes.map(\.eventName), ["usdt:\(path):ebpftest:plain", "usdt:\(path):ebpftest:gated"])
        for _ in 1...3 { XCTAssertEqual(fixture.fire(), 1) }
        XCTAssertTrue(waitUntil { events.count >= 6 }, "\(events.all)")
        let byName = Dictionary(grouping: events.inFiringOrder, by: \.eventName)
        let plain = byName["usdt:\(path):ebpftest:plain"] ?? []
        XCTAssertEqual(plain.map { $0.arg1?.intValue }, [1, 2, 3])
        XCTAssertEqual(plain.map { $0.arg2?.intValue }, [-1000, -2000, -3000])
        XCTAssertEqual(plain.map { $0.arg3?.stringValue }, ["odd", "even", "odd"])
        let gated = byName["usdt:\(path):ebpftest:gated"] ?? []
        XCTAssertEqual(gated.map { $0.arg1?.intValue }, [1, 2, 3])
        XCTAssertEqual(gated.map { $0.arg2?.intValue }, [7, 14, 21])
        XCTAssertEqual(Set(events.all.map(\.processID)), [fixture.pid])
        XCTAssertEqual(Set(events.all.map(\.processName)), ["usdt-fixture"])
        probes.forEach { $0.detach() }
        XCTAssertEqual(fixture.fire(), 0, "detached: the semaphore is lowered")
    }

    /// Arguments in each place a note can name them, read as libbcc's release parses them
    /// (its `bcc_usdt_argument` layout changed in 0.19): a register, a negative constant, memory
    /// at an offset, memory at a scaled index; the listing as `readelf -n` reads the notes,
    /// and the values exact in every firing.
    func testArgumentsInRegistersMemoryAndConstantsDecodeExactly() throws {
        try requireKernel()
        let path = try USDTFixture.path.get()
        let kinds = try XCTUnwrap(try USDTProbe.all(in: path).first { $0.name == "kinds" })
        let notes = try XCTUnwrap(try USDTFixture.notes(path)["kinds"])
        XCTAssertEqual(kinds.arguments.map(\.description), notes.arguments.map(USDTFixture.registerNamed))
        XCTAssertEqual(kinds.arguments.map(\.size), [4, 4, 4, 4])
        XCTAssertEqual(kinds.arguments.map(\.isSigned), [true, true, true, true])
        XCTAssertEqual(kinds.arguments[1].location, .constant(-5))
        func kind(_ location: USDTArgument.Location) -> String {
            switch location {
            case .register: return "register"
            case .constant: return "constant"
            case .memory(_, _, nil, _): return "memory"
            case .memory: return "indexed memory"
            case .global: return "global"
            }
        }
        XCTAssertEqual(
            kinds.arguments.map { kind($0.location) }, ["register", "constant", "memory", "indexed memory"],
            "the compiler placed them as the fixture means to test: \(notes.arguments)")

        let fixture = try USDTFixture()
        defer { fixture.stop() }
        let b = try EBPFWrapper(cache: nil)
        defer { b.close() }
        let events = Collected<ProbeEvent>()
        try b.attach(.usdt("ebpftest:kinds", in: path)) { events.append($0) }
        for _ in 1...4 { XCTAssertNotNil(fixture.fire()) }
        XCTAssertTrue(waitUntil { events.count >= 4 }, "\(events.all)")
        let fired = events.inFiringOrder
        XCTAssertEqual(fired.map { $0.arg1?.intValue }, [1, 2, 3, 4])
        XCTAssertEqual(fired.map { $0.arg2?.intValue }, [-5, -5, -5, -5])
        XCTAssertEqual(fired.map { $0.arg3?.intValue }, [5, 10, 15, 20])
        XCTAssertEqual(fired.map { $0.arg4?.intValue }, [5 * 1, 7 * 2, 11 * 3, 3 * 4])
    }

    /// By pid: another process running the same binary is neither traced nor enabled; and
    /// a probe's argument aggregated in the kernel.
    func testClosureProbeOfOneProcessAndAnAggregationOfAnArgument() throws {
        try requireKernel()
        let fixture = try USDTFixture()
        defer { fixture.stop() }
        let other = try USDTFixture()
        defer { other.stop() }
        let b = try EBPFWrapper(cache: nil)
        defer { b.close() }
        let events = Collected<ProbeEvent>()
        try b.attach(.usdt("ebpftest:gated", pid: fixture.pid)) { events.append($0) }
        let scaled = try b.aggregate(.usdt("ebpftest:plain", pid: fixture.pid), .statistics(of: "arg2"))
        XCTAssertEqual(other.fire(), 0)
        for _ in 1...3 { XCTAssertEqual(fixture.fire(), 1) }
        XCTAssertTrue(waitUntil { events.count >= 3 })
        XCTAssertEqual(events.inFiringOrder.map { $0.arg2?.intValue }, [7, 14, 21])
        XCTAssertEqual(
            try scaled.snapshot(), [.init(key: nil, count: 3, sum: -6000, min: -3000, max: -1000)])
    }

    /// A real program's probes: Debian's Python 3 (3.11 in Debian 12) is built with USDT
    /// probes gated by semaphores. Its garbage collector's `gc__start` (the generation, an argument on the
    /// stack: `-4@112(%sp)`) and `gc__done` (objects collected, `-8@%r12`) for collections a
    /// script makes, automatic ones off: generations 2, 0, 1, and 5 cycles collected by the
    /// second. (bpftrace 0.17 prints the same for the same script.)
    func testPythonGarbageCollectionsOfAScript() throws {
        try requireKernel()
        // The interpreter itself, not the link: its notes name the file.
        let python = URL(fileURLWithPath: "/usr/bin/python3").resolvingSymlinksInPath().path
        let directory = "/tmp/ebpf-usdt-python-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let script = directory + "/collect.py"
        let go = directory + "/go"
        try """
        import gc, os, sys, time
        gc.disable()
        print("ready", flush=True)
        while not os.path.exists(sys.argv[1]):
            time.sleep(0.005)
        gc.collect(2)
        for _ in range(5):
            cycle = []
            cycle.append(cycle)
        del cycle
        gc.collect(0)
        gc.collect(1)
        """.write(toFile: script, atomically: true, encoding: .utf8)
        let process = try ChildProcess(python, [script, go])
        XCTAssertTrue(process.waitForOutput("ready", timeout: childReadyTimeout), process.standardError)

        let b = try EBPFWrapper(cache: nil)
        defer { b.close() }
        let events = Collected<ProbeEvent>()
        try b.attach([.usdt("python:gc__start", pid: process.pid), .usdt("python:gc__done", pid: process.pid)]) {
            events.append($0)
        }
        XCTAssertTrue(FileManager.default.createFile(atPath: go, contents: nil))
        XCTAssertEqual(process.wait(), .exited(0), process.standardError)
        XCTAssertTrue(waitUntil { events.count >= 6 }, "\(events.all)")
        let firstThree = events.inFiringOrder.prefix(6).map {
            "\($0.eventName.split(separator: ":").last ?? "") \($0.arg1?.intValue ?? -1)"
        }
        XCTAssertEqual(
            firstThree, ["gc__start 2", "gc__done 0", "gc__start 0", "gc__done 5", "gc__start 1", "gc__done 0"])
        XCTAssertEqual(Set(events.all.map(\.processID)), [process.pid])
    }

    func testMistakesAreReportedWithWhatThereIs() throws {
        try requireKernel()
        let path = try USDTFixture.path.get()
        func error(_ functions: [String: AttachPoint]) -> EBPFError? {
            do {
                _ = try EBPFWrapper(text: Self.program, usdt: functions)
                return nil
            } catch {
                return error
            }
        }
        let missing = error(["on_plain": .usdt("ebpftest:absent", in: path)])
        XCTAssertEqual(missing?.code, .notFound)
        XCTAssertEqual(
            missing?.message,
            "no USDT probe ebpftest:absent in \(path); it has ebpftest:gated, ebpftest:kinds, ebpftest:plain")
        XCTAssertEqual(error(["on_plain": .usdt("a:b:c", in: path)])?.code, .invalidArgument)
        XCTAssertEqual(error(["on_plain": .usdt("ebpftest:plain")])?.code, .invalidArgument)
        XCTAssertEqual(error(["on_plain": .usdt("plain;", in: path)])?.code, .invalidArgument)
        XCTAssertEqual(error(["on plain": .usdt("plain", in: path)])?.code, .invalidArgument)
        XCTAssertEqual(error(["on_plain": .usdt("plain", in: "/nonexistent/x")])?.code, .notFound)
        XCTAssertEqual(error(["on_plain": .usdt("plain", pid: -4)])?.code, .invalidArgument)
        XCTAssertEqual(
            error(["on_plain": .tracepoint("syscalls:sys_enter_getppid")])?.message,
            "usdt: 'on_plain' is given tracepoint:syscalls:sys_enter_getppid, not a USDT probe (.usdt(\"provider:name\", in: binary) or usdt:BINARY:PROVIDER:NAME); attach other kinds with attach(function:to:)"
        )

        let b = try EBPFWrapper(cache: nil)
        defer { b.close() }
        func attachError(_ point: AttachPoint, strings: Set<Int>) -> EBPFError? {
            do {
                try b.attach(point, options: ProbeOptions(arguments: ArgumentReading(strings: strings))) { _ in }
                return nil
            } catch {
                return error
            }
        }
        XCTAssertEqual(
            attachError(.usdt("ebpftest:plain", in: path), strings: [4])?.message,
            "USDT probe ebpftest:plain has 3 arguments, so argument 4 cannot be a string; they are numbered from 1")
        XCTAssertEqual(
            attachError(.usdt("ebpftest:plain", in: path), strings: [1])?.message,
            "argument 1 of USDT probe ebpftest:plain is \(try USDTFixture.registerNamed(XCTUnwrap(USDTFixture.notes(path)["plain"]).arguments[0])), too narrow for a pointer to a string"
        )
        XCTAssertEqual(b.session.attachments.count, 0, "nothing left attached")
    }

    /// Keeps each probe's arguments by round: `plain` round → arg 2, the first 8 bytes of
    /// the string arg 3 points to; `gated` round → arg 2.
    static let program = """
        BPF_HASH(plain, s32, s64, 64);
        BPF_HASH(words, s32, u64, 64);
        BPF_HASH(gated, s32, s32, 64);
        int on_plain(struct pt_regs *ctx) {
            s32 round = 0;
            s64 scaled = 0;
            u64 word = 0;
            bpf_usdt_readarg(1, ctx, &round);
            bpf_usdt_readarg(2, ctx, &scaled);
            bpf_usdt_readarg_p(3, ctx, &word, sizeof(word));
            plain.update(&round, &scaled);
            words.update(&round, &word);
            return 0;
        }
        int on_gated(struct pt_regs *ctx) {
            s32 round = 0, seventh = 0;
            bpf_usdt_readarg(1, ctx, &round);
            bpf_usdt_readarg(2, ctx, &seventh);
            gated.update(&round, &seventh);
            return 0;
        }
        """

    private func assertRounds(_ rounds: ClosedRange<Int>, of b: EBPFWrapper<CProgram>, line: UInt = #line) throws {
        let plain = try b.table("plain", key: Int32.self, value: Int64.self)
        let words = try b.table("words", key: Int32.self, value: UInt64.self)
        let gated = try b.table("gated", key: Int32.self, value: Int32.self)
        for round in rounds {
            let key = Int32(round)
            XCTAssertEqual(try plain[key], Int64(round) * -1000, "round \(round)", line: line)
            let word = try words[key].map { value in
                withUnsafeBytes(of: value) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            }
            XCTAssertEqual(word, round % 2 == 1 ? "odd" : "even", line: line)
            XCTAssertEqual(try gated[key], Int32(round * 7), line: line)
        }
        XCTAssertEqual(try b.table("plain").items().count, rounds.count, "no other rounds", line: line)
        XCTAssertEqual(try b.table("gated").items().count, rounds.count, line: line)
    }
}
