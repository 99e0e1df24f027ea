@_spi(Generator) @testable import EBPF
import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif
@testable import EBPFKernel

/// Only libbcc's compiler is serialized: what one wrapper does with its maps, its emitted
/// probes and its aggregations never waits for a compile in another.
final class ConcurrencyTests: XCTestCase {
    /// A compile holds ``LibBCC/lock`` from its start to its end (`BPFModule.init`), so
    /// holding it here is, to every other thread, a compile in progress that never ends:
    /// each step below either completes without the compiler or waits out the minute.
    func testMapsEmittedProbesAndAggregationsWorkWhileAnotherWrapperCompiles() throws {
        try requireKernel()
        let native = try EBPFWrapper(text: "BPF_HASH(values, u32, u64, 16);", cache: nil)
        defer { native.close() }
        let values = try native.table("values", key: UInt32.self, value: UInt64.self)
        let tracer = try EBPFWrapper(cache: nil, probeBuilder: .emitter)
        defer { tracer.close() }
        let counts = try tracer.aggregate(
            .syscall("getpgid"), by: .processID, filter: ProbeFilter(processID: ThisProcess.pid))

        let finished = DispatchSemaphore(value: 0)
        let outcome = Locked<Result<[String], any Error>?>(nil)
        var inTime = false
        LibBCC.withLock {
            let worker = Thread {
                outcome.withLock {
                    $0 = Result {
                        _ = try values.updateValue(41, forKey: 7)
                        let read = try values.value(forKey: 7)
                        // An emitted probe: attached, fired and delivered without clang.
                        let events = Collected<ProbeEvent>()
                        let probe = try tracer.attach(
                            .syscall("getppid"), filter: ProbeFilter(threadID: ThisProcess.tid)
                        ) {
                            events.append($0)
                        }
                        _ = getppid()
                        _ = getpgid(0)
                        let delivered = pollUntil(timeout: .seconds(30)) { events.count == 1 }
                        probe.detach()
                        let counted = pollUntil(timeout: .seconds(30)) {
                            ((try? counts.snapshot()) ?? []).reduce(0) { $0 + $1.count } >= 1
                        }
                        return [
                            "read \(read.map(String.init) ?? "nil")", "delivered \(delivered)", "counted \(counted)",
                        ]
                    }
                }
                finished.signal()
            }
            worker.start()
            inTime = finished.wait(timeout: .now() + 60) == .success
        }
        XCTAssertTrue(inTime, "a step waited for the compiler's lock")
        if !inTime { finished.wait() }
        XCTAssertEqual(try outcome.withLock { try $0?.get() }, ["read 41", "delivered true", "counted true"])
        XCTAssertEqual(counts.program.eventName, "syscalls:sys_enter_getpgid")
    }
}
