@_spi(Generator) @testable import EBPF
import Foundation
import XCTest

/// A C function of libc, `access(path, mode)`, probed by its symbol in the library named
/// `"c"`: each call's path (read as a string) and mode, and its return, with bpftrace's
/// `uprobe:`/`uretprobe:` on the same calls as the oracle.
final class LibcUprobeTests: XCTestCase {
    func testAccessArgumentsAndReturnsAgreeWithBpftrace() throws {
        try requireKernel()
        let b = try EBPFWrapper()
        defer { b.close() }
        let entries = Collected<ProbeEvent>()
        let returns = Collected<ProbeEvent>()
        let strings = ProbeOptions(arguments: .strings([1]))
        // Both in one call: one compile, done before either is attached (clang calls access on
        // this thread while it compiles).
        let probes = try b.attach(
            [.uprobe("access", in: "c", pid: ThisProcess.pid), .uretprobe("access", in: "c", pid: ThisProcess.pid)],
            filter: ourThread, options: strings
        ) { event in
            if event.eventName.hasPrefix("uretprobe:") { returns.append(event) } else { entries.append(event) }
        }
        let entry = probes[0]
        // The library the probe went into, as bpftrace must name it.
        let library = try XCTUnwrap(entry.eventName.split(separator: ":").dropFirst().first.map(String.init))
        XCTAssertTrue(library.hasPrefix("/") && library.contains("libc"), library)
        let oracle = try ChildProcess(
            "/usr/bin/bpftrace",
            [
                "-B", "line", "-e",
                "uprobe:\(library):access /tid == \(ThisProcess.tid)/ { printf(\"entry %s %d\\n\", str(arg0), arg1); } "
                    + "uretprobe:\(library):access /tid == \(ThisProcess.tid)/ { printf(\"return %lld\\n\", retval); }",
            ], environment: ["LD_LIBRARY_PATH": ""])
        // Everything the test reads of bpftrace is its printf lines, read before this runs; its
        // exit on SIGINT (maps printed, probes detached) once outlasted 5 minutes in a guest on
        // a starved machine. SIGKILL ends it at once, and its probes' descriptors with it.
        defer {
            oracle.signal(SIGKILL)
            _ = oracle.wait()
        }
        // bpftrace says "Attaching" before it attaches: a marker call, repeated until bpftrace
        // has seen it, shows that it is attached.
        let marker = "/ebpf-oracle-marker"
        XCTAssertTrue(
            pollUntil(timeout: childReadyTimeout) {
                _ = access(marker, F_OK)
                return oracle.standardOutput.contains("entry \(marker) ")
            }, oracle.standardOutput + oracle.standardError)

        let calls: [(path: String, mode: Int32)] = [("/", R_OK), ("/no/such/file", F_OK), ("/proc/self", X_OK)]
        let results = calls.map { access($0.path, $0.mode) }
        XCTAssertEqual(results, [0, -1, 0])
        // A last marker: once both have seen its entry and as many returns as entries, they
        // have seen every call before it (no order across CPUs is assumed below). A return
        // may be seen without its entry: a uretprobe attached before the uprobe catches the
        // return of a call entered in between.
        let end = "/ebpf-oracle-end"
        XCTAssertEqual(access(end, F_OK), -1)
        func returnLines() -> [String] {
            oracle.standardOutput.split(separator: "\n").filter { $0.hasPrefix("return ") }.map(String.init)
        }
        func entryLines() -> [String] {
            oracle.standardOutput.split(separator: "\n").filter { $0.hasPrefix("entry ") }.map(String.init)
        }
        XCTAssertTrue(
            waitUntil { entryLines().contains("entry \(end) 0") && returnLines().count >= entryLines().count },
            oracle.standardOutput)
        // libbcc 0.31 checks the binary's path with access() while it attaches the second
        // probe, on this thread: the first probe sees that call, and no return probe yet.
        func isLibrarys(_ path: String?) -> Bool { path?.hasPrefix("/proc/self/fd/") == true }
        XCTAssertTrue(
            waitUntil {
                entries.all.contains { $0.arg1?.stringValue == end }
                    && returns.count >= entries.all.filter { !isLibrarys($0.arg1?.stringValue) }.count
            })
        XCTAssertTrue(waitForDeliveryOfEverythingWrittenSoFar(b))

        func isMarker(_ path: String?) -> Bool { path == marker || path == end }
        let ours = entries.all.filter { !isMarker($0.arg1?.stringValue) && !isLibrarys($0.arg1?.stringValue) }
        XCTAssertEqual(
            ours.map { "\($0.arg1?.stringValue ?? "") \($0.arg2?.intValue ?? -1)" }.sorted(),
            calls.map { "\($0.path) \($0.mode)" }.sorted())
        let theirs = entryLines().filter { !$0.hasPrefix("entry \(marker) ") && !$0.hasPrefix("entry \(end) ") }
        XCTAssertEqual(
            theirs.sorted(), calls.map { "entry \($0.path) \($0.mode)" }.sorted(), "bpftrace saw the same calls")
        // `ret` is the whole return register, as bpftrace's `retval` printed whole (`%lld`):
        // glibc's access fails with `mov $0xffffffff,%eax`, 4294967295, and a C int is its
        // low 32 bits (bpftrace's `%d` prints those). Each marker call failed (no such file).
        let failed = Int(UInt32.max)
        let succeeded = results.filter { $0 == 0 }.map { _ in 0 }
        let ourReturns = returns.all.compactMap { $0.ret?.intValue }
        let theirReturns = returnLines().compactMap { Int($0.dropFirst("return ".count)) }
        for (tool, values) in [("EBPF", ourReturns), ("bpftrace", theirReturns)] {
            // The two calls that succeeded returned 0; the failed call and every marker call
            // (the end marker at least) returned 4294967295, and nothing else was returned.
            XCTAssertEqual(values.filter { $0 != failed }, succeeded, tool)
            XCTAssertGreaterThanOrEqual(values.filter { $0 == failed }.count, 2, tool)
            XCTAssertEqual(values.count, values.filter { $0 == failed || $0 == 0 }.count, tool)
        }
    }

    /// glibc's `strlen` is an indirect function: its symbol is the resolver run once at
    /// load time, so a probe there would count nothing. It is refused, saying why.
    func testAnIndirectFunctionIsRefusedWithWhatToProbe() throws {
        try requireKernel()
        let b = try EBPFWrapper()
        defer { b.close() }
        XCTAssertThrowsError(try b.attach(.uprobe("strlen", in: "c")) { _ in }) { error in
            let error = error as! EBPFError
            XCTAssertEqual(error.code, .notSupported)
            XCTAssertTrue(
                error.message.contains("\"strlen\"") && error.message.contains("indirect function (IFUNC)"),
                error.message
            )
        }
        XCTAssertTrue(b.session.probes.isEmpty, "nothing attached")
    }
}
