@_spi(Generator) @testable import EBPF
import Foundation
import Synchronization
import XCTest

/// One wrapper's buffers share one polling thread. A buffer whose producer outpaces its
/// callback must not keep that thread: the other buffers still deliver every record.
/// (libbcc's and libbpf's readers loop until a ring is empty; under a flood that never
/// happened, and the quiet buffer's ring filled and refused records.)
final class BufferFairnessTests: XCTestCase {
    enum Kind { case perf, ring }

    func testFloodedPerfBufferLetsARingBufferDeliver() throws {
        try assertQuietBufferDelivers(flooded: .perf, quiet: .ring)
    }

    func testFloodedRingBufferLetsAPerfBufferDeliver() throws {
        try assertQuietBufferDelivers(flooded: .ring, quiet: .perf)
    }

    func testFloodedPerfBufferLetsAnotherPerfBufferDeliver() throws {
        try assertQuietBufferDelivers(flooded: .perf, quiet: .perf)
    }

    /// Every getppid() of this process goes to `flood` (counting in `refused` what its full
    /// ring refuses); every dup() goes to `quiet` with its fd argument.
    static func program(flooded: Kind, quiet: Kind) -> String {
        func declaration(_ kind: Kind, _ name: String) -> String {
            kind == .perf ? "BPF_PERF_OUTPUT(\(name));" : "BPF_RINGBUF_OUTPUT(\(name), 4);"
        }
        func submit(_ kind: Kind, _ name: String) -> String {
            kind == .perf ? "\(name).perf_submit(args, &r, sizeof(r))" : "\(name).ringbuf_output(&r, sizeof(r), 0)"
        }
        return """
            \(declaration(flooded, "flood"))
            \(declaration(quiet, "quiet"))
            BPF_ARRAY(refused, u64, 1);
            TRACEPOINT_PROBE(syscalls, sys_enter_getppid) {
                if ((bpf_get_current_pid_tgid() >> 32) != TARGET_PID) return 0;
                u64 r = 1;
                if (\(submit(flooded, "flood")) != 0) {
                    int zero = 0;
                    u64 *count = refused.lookup(&zero);
                    if (count) __sync_fetch_and_add(count, 1);
                }
                return 0;
            }
            TRACEPOINT_PROBE(syscalls, sys_enter_dup) {
                if ((bpf_get_current_pid_tgid() >> 32) != TARGET_PID) return 0;
                u64 r = args->fildes;
                \(submit(quiet, "quiet"));
                return 0;
            }
            """
    }

    private func assertQuietBufferDelivers(flooded: Kind, quiet: Kind) throws {
        try requireKernel()
        let b = try EBPFWrapper(
            text: Self.program(flooded: flooded, quiet: quiet), cflags: ["-DTARGET_PID=\(ThisProcess.pid)"])
        defer { b.close() }
        try b.attachTracepoint(tp: "syscalls:sys_enter_getppid", fnName: "tracepoint__syscalls__sys_enter_getppid")
        try b.attachTracepoint(tp: "syscalls:sys_enter_dup", fnName: "tracepoint__syscalls__sys_enter_dup")

        // A consumer far slower than the producer: 200 µs per record against a getppid()
        // loop, with small rings, so the flood's ring is full from the start and stays full.
        let flood: @Sendable (UInt64) -> Void = { _ in usleep(200) }
        switch flooded {
        case .perf:
            try b.table("flood").openPerfBuffer(
                as: UInt64.self, options: PerfBufferOptions(pageCount: 4), handler: flood)
        case .ring: try b.table("flood").openRingBuffer(as: UInt64.self, handler: flood)
        }
        // The quiet buffer keeps the default options: batched wake-ups for a perf buffer.
        let received = Collected<UInt64>()
        switch quiet {
        case .perf: try b.table("quiet").openPerfBuffer(as: UInt64.self) { received.append($0) }
        case .ring: try b.table("quiet").openRingBuffer(as: UInt64.self) { received.append($0) }
        }
        let refused = try b.table("refused", key: UInt32.self, value: UInt64.self)
        func refusedCount() -> UInt64 { ((try? refused.value(forKey: 0)) ?? nil) ?? 0 }

        let load = ReliabilityTests.Load()
        defer { _ = load.stop() }
        XCTAssertTrue(
            waitUntil(timeout: .seconds(30)) { refusedCount() > 0 },
            "the flood should overrun its ring; \(load.calls.load(ordering: .relaxed)) getppid() calls")
        let before = refusedCount()

        let descriptors = (0..<10).map { UInt64(1 << 30) + $0 }
        for fd in descriptors { _ = dup(Int32(fd)) }  // Not open: EBADF, but the tracepoint fires.
        // This thread keeps the flood going too, whether or not the load thread runs: each
        // round calls getppid() until the flood's ring refuses a call, then looks for the
        // quiet records. So the flood overran its ring after the dup() calls and before
        // their records were seen delivered.
        var delivered = false
        let deadline = ContinuousClock.now + .seconds(60)
        while !delivered, ContinuousClock.now < deadline {
            let seen = refusedCount()
            while refusedCount() == seen, ContinuousClock.now < deadline {
                for _ in 0..<64 { _ = getppid() }
            }
            delivered = received.count == descriptors.count
        }
        let during = refusedCount() - before
        XCTAssertTrue(
            delivered, "the quiet buffer delivered \(received.count) of \(descriptors.count) while the flood ran")
        XCTAssertEqual(received.all.sorted(), descriptors)
        XCTAssertGreaterThan(during, 0, "the flood kept overrunning its ring while the quiet records were delivered")
        print("FAIRNESS flooded=\(flooded) quiet=\(quiet) refused_during=\(during)")
    }
}
