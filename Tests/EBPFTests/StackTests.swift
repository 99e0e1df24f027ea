@_spi(Generator) @testable import EBPF
import CTestSupport
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

    /// `inner` starts with the frame set-up the probe's offset skips: `push %rbp; mov
    /// %rsp,%rbp`, read from the binary (a build adding `endbr64` would move it).
    func testInnerStartsWithTheFrameSetUpItsProbeSkips() throws {
        XCTAssertEqual(try StackFixture.firstBytes(of: "StackFixture.inner(_:)"), StackFixture.framePrologue)
    }

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

    /// At a tracepoint inside the kernel, the kernel's stack holds the path from the
    /// syscall that led there: renaming the thread (a raw prctl) reaches `task:task_rename`
    /// from `do_syscall_64`. (At a syscall's own tracepoint the kernel passes the caller's
    /// user registers on some kernels, 6.1's among them, so its kernel stack is empty there.)
    func testAKernelStackHoldsTheSyscallPath() throws {
        try requireKernel()
        let b = try EBPFWrapper()
        defer { b.close() }
        let events = Collected<ProbeEvent>()
        try b.attach(.tracepoint("task:task_rename"), filter: ourThread, options: ProbeOptions(stacks: .both)) {
            events.append($0)
        }
        let name = ThisProcess.comm
        XCTAssertEqual(cts_set_thread_name("ebpf-renamed"), 0)
        XCTAssertEqual(cts_set_thread_name(name), 0)
        XCTAssertTrue(waitUntil { events.count >= 2 })
        for event in events.all {
            let kernel = try XCTUnwrap(event.kernelStack)
            XCTAssertTrue(kernel.map(\.function).contains("do_syscall_64"), "\(kernel.map(\.function))")
            XCTAssertEqual(Set(kernel.compactMap(\.module)), ["[kernel]"])
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

    /// Kernel stacks as keys (bpftrace's `@[kstack] = count()`): the same path twice is one
    /// key counted 2, the same in every process; `take()` hands it over and starts afresh.
    func testKernelStacksAsKeysAreTakenWhole() throws {
        try requireKernel()
        let b = try EBPFWrapper()
        defer { b.close() }
        let stacks = try b.aggregate(.tracepoint("task:task_rename"), by: .kernelStack, filter: ourThread)
        let name = ThisProcess.comm
        for _ in 0..<2 { XCTAssertEqual(cts_set_thread_name(name), 0) }
        let taken = try stacks.take()
        XCTAssertEqual(taken.map(\.count), [2], "\(taken)")
        XCTAssertTrue(taken.first?.key?.stringsValue?.contains("do_syscall_64") == true, "\(taken)")
        XCTAssertEqual(try stacks.take().count, 0)
        XCTAssertEqual(cts_set_thread_name(name), 0)
        // As bpftrace prints a stack key: its frames on lines of their own, then the count.
        let text = try stacks.text()
        XCTAssertTrue(text.contains("\n    do_syscall_64\n") && text.hasSuffix("\ncount 1"), text)
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
