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
        defer {
            oracle.signal(SIGINT)
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
        func unmarked(_ events: [ProbeEvent]) -> [ProbeEvent] {
            // Each marker call is an entry and a return; the returns come in the same order.
            events.filter { $0.arg1?.stringValue != marker }
        }

        let calls: [(path: String, mode: Int32)] = [("/", R_OK), ("/no/such/file", F_OK), ("/proc/self", X_OK)]
        let results = calls.map { access($0.path, $0.mode) }
        XCTAssertEqual(results, [0, -1, 0])
        XCTAssertTrue(waitUntil { unmarked(entries.all).count >= 3 }, "\(entries.all)")
        XCTAssertTrue(waitUntil { oracle.standardOutput.split(separator: "\n").filter { $0.hasPrefix("return ") }.count >= 3 }, oracle.standardOutput)

        XCTAssertTrue(waitForDeliveryOfEverythingWrittenSoFar(b))
        let markers = entries.all.count - unmarked(entries.all).count
        let seen = unmarked(entries.inFiringOrder)
        XCTAssertEqual(seen.map { $0.arg1?.stringValue }, calls.map(\.path))
        XCTAssertEqual(seen.map { $0.arg2?.intValue }, calls.map { Int($0.mode) })
        let lines = oracle.standardOutput.split(separator: "\n").map(String.init)
            .filter { !$0.hasPrefix("entry \(marker) ") }
        XCTAssertEqual(
            lines.filter { $0.hasPrefix("entry ") },
            seen.map { "entry \($0.arg1?.stringValue ?? "") \($0.arg2?.intValue ?? -1)" }, "bpftrace saw the same calls")
        // `ret` is the whole return register, as bpftrace's `retval` printed whole (`%lld`):
        // glibc's access fails with `mov $0xffffffff,%eax`, 4294967295, and a C int is its
        // low 32 bits (bpftrace's `%d` prints those).
        // The marker calls returned first (-1, no such file): the last three are the calls'.
        XCTAssertEqual(returns.all.count, markers + 3)
        let returned = Array(returns.inFiringOrder.compactMap { $0.ret?.intValue }.suffix(3))
        XCTAssertEqual(Array(lines.filter { $0.hasPrefix("return ") }.suffix(3)), returned.map { "return \($0)" })
        XCTAssertEqual(returned.map { Int32(truncatingIfNeeded: $0) }, results)
    }
}
