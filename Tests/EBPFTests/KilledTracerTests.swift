@_spi(Generator) @testable import EBPF
import Foundation
import XCTest

/// A tracer killed with SIGKILL runs no clean-up at all; what it attached must still vanish
/// with it. The test runs this very test binary again as the tracer (EBPF_TEST_TRACER_CHILD=1
/// selects that role), and checks with bpftool -- an independent reader of the kernel's
/// state -- that its attachments were there and are gone.
final class KilledTracerTests: XCTestCase {
    static let childRole = "EBPF_TEST_TRACER_CHILD"
    static let testName = "EBPFTests.KilledTracerTests/testSIGKILLedTracerLeavesNothingAttached"

    func testSIGKILLedTracerLeavesNothingAttached() throws {
        try requireKernel()
        if ProcessInfo.processInfo.environment[Self.childRole] == "1" {
            return try Self.runAsTracer()
        }
        let tracer = try ChildProcess(
            try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"), [Self.testName],
            environment: [Self.childRole: "1"], mergeOutput: true)
        guard tracer.waitForOutput("TRACER READY", timeout: childReadyTimeout) else {
            tracer.signal(SIGKILL)
            tracer.wait()
            return XCTFail("the tracer did not get ready: \(tracer.standardOutput)")
        }
        // Attached, as the kernel sees it: one perf-event or link file per attach point.
        let attached = try BPFTool.perfAttachments(pid: tracer.pid)
        var expected: Set<String> = ["tracepoint", "raw_tracepoint", "uprobe"]
        if KernelFeatures.supportsKprobes { expected.insert("kprobe") }
        XCTAssertEqual(Set(attached.map(\.type)), expected, "\(attached)")
        XCTAssertEqual(attached.filter { $0.type == "tracepoint" }.count, 1, "the native program's")
        XCTAssertEqual(
            attached.filter { $0.type == "raw_tracepoint" }.map(\.target), ["sys_enter", "sys_enter"],
            "the native program's, and the routed closure probe's dispatcher")
        // The tracer's own, from its descriptors: programs other processes load meanwhile
        // (another test run, systemd) are not counted.
        let programs = BPFTool.ids("prog", heldBy: tracer.pid)
        let links = BPFTool.ids("link", heldBy: tracer.pid)
        XCTAssertGreaterThanOrEqual(programs.count, expected.count + 1, "the tracer's programs are loaded")
        XCTAssertFalse(links.isEmpty, "the raw tracepoint is a BPF link")

        tracer.signal(SIGKILL)
        XCTAssertEqual(tracer.wait(), .signaled(SIGKILL))
        // The kernel frees programs after their last reference goes, asynchronously.
        XCTAssertTrue(
            waitUntil(timeout: .seconds(30)) {
                let programsLeft = (try? BPFTool.ids("prog")) ?? programs
                let linksLeft = (try? BPFTool.ids("link")) ?? links
                return programsLeft.isDisjoint(with: programs) && linksLeft.isDisjoint(with: links)
            }, "every program and link of the killed tracer is gone")
        XCTAssertEqual(try BPFTool.perfAttachments(pid: tracer.pid), [])
        XCTAssertEqual(
            ReliabilityTests.probeEventLines(of: tracer.pid), [],
            "no kprobe or uprobe event of the tracer left in tracefs")
    }

    /// The tracer's role: attach every kind this kernel has, see each deliver, say so, then
    /// keep events flowing until killed (or give up after two minutes).
    static func runAsTracer() throws {
        let b = try EBPFWrapper(
            text: """
                #include <uapi/linux/ptrace.h>
                struct hit { u32 kind; };
                BPF_PERF_OUTPUT(hits);
                static int submit(void *ctx, u32 kind) {
                    if ((bpf_get_current_pid_tgid() >> 32) != TARGET_PID) return 0;
                    struct hit h = { .kind = kind };
                    hits.perf_submit(ctx, &h, sizeof(h));
                    return 0;
                }
                int on_tracepoint(void *ctx) { return submit(ctx, 1); }
                int on_raw_tracepoint(void *ctx) { return submit(ctx, 2); }
                int on_uprobe(struct pt_regs *ctx) { return submit(ctx, 3); }
                int on_kprobe(struct pt_regs *ctx) { return submit(ctx, 4); }
                int on_sample(void *ctx) { return 0; }
                """, cflags: ["-DTARGET_PID=\(getpid())"])
        let kinds = Collected<Int>()
        try b.attachTracepoint(tp: "syscalls:sys_enter_getppid", fnName: "on_tracepoint")
        try b.attach(function: "on_raw_tracepoint", to: .rawTracepoint("sys_enter"))
        try b.attach(function: "on_uprobe", to: .uprobe("getpid", in: "c"))
        var expected: Set<Int> = [1, 2, 3, 5]
        if KernelFeatures.supportsKprobes {
            try b.attachKprobe(event: b.syscallFunctionName("getppid"), fnName: "on_kprobe")
            expected.insert(4)
        }
        try b.attach(
            function: "on_sample", to: .perfEvent(.software(.cpuClock), sampling: .frequency(49), pid: getpid()))
        try b.table("hits").openPerfBuffer { kinds.append($0.kind?.intValue ?? 0) }
        try b.attach(.syscall("getppid"), filter: ProbeFilter(processID: getpid())) { _ in kinds.append(5) }
        let deadline = ContinuousClock.now + .seconds(120)
        var announced = false
        while ContinuousClock.now < deadline {
            _ = getppid()
            _ = getpid()
            if !announced, expected.isSubset(of: Set(kinds.all)) {
                print("TRACER READY kinds=\(Set(kinds.all).sorted())")
                fflush(nil)
                announced = true
            }
            usleep(1_000)
        }
        b.close()
    }
}

/// bpftool (Debian's `bpftool`, installed by scripts/setup-host.sh), read as JSON.
enum BPFTool {
    struct PerfAttachment: Equatable, CustomStringConvertible {
        let pid: Int
        let type: String
        let target: String
        var description: String { "\(type) \(target) (pid \(pid))" }
    }

    static func json(_ arguments: [String]) throws -> [[String: Any]] {
        let path = ["/usr/sbin/bpftool", "/usr/bin/bpftool"].first { FileManager.default.isExecutableFile(atPath: $0) }
        let tool = try XCTUnwrap(path, "bpftool is not installed: run ./scripts/setup-host.sh")
        let (termination, output) = try runToCompletion(tool, ["--json"] + arguments)
        guard termination == .exited(0) else { throw EBPFError(.systemCallFailed, "bpftool \(arguments): \(output)") }
        let object = try JSONSerialization.jsonObject(with: Data(output.utf8))
        return try XCTUnwrap(object as? [[String: Any]], output)
    }

    /// The ids of the loaded BPF objects of `kind` (`prog`, `link`, `map`).
    static func ids(_ kind: String) throws -> Set<Int> {
        Set(try json([kind, "show"]).compactMap { $0["id"] as? Int })
    }

    /// The ids of the BPF objects of `kind` (`prog`, `link`) that `pid` holds open, from its
    /// descriptors' `fdinfo` (`prog_id:`, `link_id:`): what one process loaded, whatever
    /// other processes load meanwhile.
    static func ids(_ kind: String, heldBy pid: pid_t) -> Set<Int> {
        let directory = "/proc/\(pid)/fdinfo"
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var ids: Set<Int> = []
        for entry in entries {
            for line in (KernelFiles.read("\(directory)/\(entry)") ?? "").split(separator: "\n")
            where line.hasPrefix("\(kind)_id:") {
                if let id = Int(line.dropFirst(kind.count + 4).trimmingCharacters(in: .whitespaces)) { ids.insert(id) }
            }
        }
        return ids
    }

    /// The perf events and links `pid` holds with a BPF program attached (`bpftool perf`).
    static func perfAttachments(pid: pid_t) throws -> [PerfAttachment] {
        try json(["perf", "show"]).filter { $0["pid"] as? Int == Int(pid) }.map { entry in
            let type = entry["fd_type"] as? String ?? "?"
            let target = ["tracepoint", "func", "filename"].compactMap { entry[$0] as? String }.joined(separator: " ")
            return PerfAttachment(pid: Int(pid), type: type, target: target)
        }
    }
}
