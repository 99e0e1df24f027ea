@_spi(Generator) @testable import EBPF
import Foundation
import XCTest

/// Stacks recorded with closure events and as aggregation keys, on the test binary's own
/// call chain `outer → middle → inner` (``StackFixture``) and on a syscall's kernel path.
final class StackTests: XCTestCase {
    let binary = SwiftFunctionFixture.binary
    /// The uprobe inside `inner`, past its frame set-up.
    var insideInner: AttachPoint {
        .uprobe("StackFixture.inner(_:)", in: binary, offset: StackFixture.framePrologueSize, pid: ThisProcess.pid)
    }
    let chain = [
        "EBPFTests.StackFixture.inner(_:)", "EBPFTests.StackFixture.middle(_:)", "EBPFTests.StackFixture.outer(_:)",
    ]

    /// The probe's user stack is the chain, innermost first, by Swift names, with the
    /// binary as each frame's module; the kernel stack is asked for too and recorded; a
    /// probe without stacks has none.
    func testClosureEventsCarryTheStacksAsked() throws {
        try requireKernel()
        let b = try EBPFWrapper()
        defer { b.close() }
        let events = Collected<ProbeEvent>()
        let probe = try b.attach(insideInner, filter: ourThread, options: ProbeOptions(stacks: .user)) {
            events.append($0)
        }
        let plain = Collected<ProbeEvent>()
        try b.attach(insideInner, filter: ourThread) { plain.append($0) }
        XCTAssertEqual(StackFixture.outer(5), 17)
        XCTAssertEqual(StackFixture.outer(6), 20)
        XCTAssertTrue(waitUntil { events.count >= 2 && plain.count >= 2 }, "\(events.all)")
        for event in events.all {
            let stack = try XCTUnwrap(event.userStack)
            XCTAssertEqual(Array(stack.prefix(3).map(\.function)), chain, "\(stack)")
            XCTAssertEqual(Set(stack.prefix(3).compactMap(\.module)), [binary])
            XCTAssertTrue(
                stack.dropFirst(3).first?.function.contains("testClosureEventsCarryTheStacksAsked") == true,
                "then the test itself: \(stack.map(\.function))")
            XCTAssertNil(event.kernelStack, "not asked for")
        }
        XCTAssertEqual(plain.all.map { $0.userStack == nil }, [true, true])
        XCTAssertEqual(try probe.stackFailures(), StackFailures())
    }

    /// A syscall's kernel stack holds the kernel's syscall entry.
    func testAKernelStackHoldsTheSyscallPath() throws {
        try requireKernel()
        let b = try EBPFWrapper()
        defer { b.close() }
        let events = Collected<ProbeEvent>()
        try b.attach(.syscall("getppid"), filter: ourThread, options: ProbeOptions(stacks: .both)) {
            events.append($0)
        }
        XCTAssertEqual(getppid(), getppid())
        XCTAssertTrue(waitUntil { events.count >= 2 })
        for event in events.all {
            let kernel = try XCTUnwrap(event.kernelStack).map(\.function)
            XCTAssertTrue(kernel.contains("do_syscall_64"), "\(kernel)")
            XCTAssertEqual(Set(try XCTUnwrap(event.kernelStack).compactMap(\.module)), ["[kernel]"])
            XCTAssertNotNil(event.userStack)
        }
    }

    /// As aggregation keys, bpftrace's `@[ustack] = count()`: the same stack three times is
    /// one key counted 3; another caller's stack is another key; folded, outermost first.
    func testStacksAsAggregationKeys() throws {
        try requireKernel()
        let b = try EBPFWrapper()
        defer { b.close() }
        let stacks = try b.aggregate(insideInner, by: .userStack, filter: ourThread)
        for value in 1...3 { XCTAssertEqual(StackFixture.outer(value), 3 * value + 2) }
        XCTAssertEqual(StackFixture.inner(7), 21)
        let entries = try stacks.snapshot()
        XCTAssertEqual(entries.map(\.count), [3, 1], "\(entries)")
        let throughChain = try XCTUnwrap(entries.first?.key?.stringsValue)
        XCTAssertEqual(Array(throughChain.prefix(3)), chain)
        let direct = try XCTUnwrap(entries.last?.key?.stringsValue)
        XCTAssertEqual(direct.first, chain[0])
        XCTAssertTrue(direct.dropFirst().first?.contains("testStacksAsAggregationKeys") == true, "\(direct)")
        let folded = try stacks.foldedStacks()
        XCTAssertEqual(folded.map(\.count), [3, 1])
        XCTAssertEqual(Array(try XCTUnwrap(folded.first?.frames.suffix(3))), chain.reversed())
        XCTAssertEqual(try stacks.stackFailures(), StackFailures())
        XCTAssertThrowsError(try b.aggregate(.syscall("getppid")).foldedStacks()) { error in
            XCTAssertEqual((error as! EBPFError).code, .invalidArgument)
        }
    }

    func testStackDepthIsBounded() throws {
        try requireKernel()
        let b = try EBPFWrapper()
        defer { b.close() }
        let events = Collected<ProbeEvent>()
        try b.attach(
            insideInner, filter: ourThread, options: ProbeOptions(stacks: StackCapture(user: true, maxDepth: 2))
        ) { events.append($0) }
        XCTAssertEqual(StackFixture.outer(1), 5)
        XCTAssertTrue(waitUntil { events.count >= 1 })
        XCTAssertEqual(events.all.first?.userStack?.map(\.function), Array(chain.prefix(2)))
        XCTAssertThrowsError(
            try b.attach(insideInner, options: ProbeOptions(stacks: StackCapture(user: true, maxDepth: 128))) { _ in }
        ) {
            XCTAssertEqual(($0 as! EBPFError).code, .invalidArgument)
        }
    }
}
