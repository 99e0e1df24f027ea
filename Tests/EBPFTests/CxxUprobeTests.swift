import CTestSupport
@_spi(Generator) @testable import EBPF
import Foundation
import XCTest

/// Uprobes and uretprobes on this test binary's own C++ functions (`CxxFunctions.cpp` in
/// CTestSupport, namespace `ebpf_fixture`), named by their demangled names: exact
/// arguments, return values and counts of calls the test makes, names as binutils'
/// `c++filt` prints them, and a C++ call chain in a user stack.
final class CxxUprobeTests: XCTestCase {
    let binary = SwiftFunctionFixture.binary
    func here(_ function: String) -> AttachPoint { .uprobe(function, in: binary, pid: ThisProcess.pid) }

    /// The fixture's functions, listed by a pattern on their demangled names, are named as
    /// `c++filt` names their symbols, without a template's return type.
    func testListingNamesFunctionsAsCxxfiltDoes() throws {
        let functions = try UserFunction.all(in: binary, matching: "ebpf_fixture::*")
        XCTAssertEqual(
            functions.map(\.name).sorted(),
            [
                "ebpf_fixture::(anonymous namespace)::hidden(long)", "ebpf_fixture::Counter::add(long) const",
                "ebpf_fixture::Counter::add(long, long) const", "ebpf_fixture::Counter::make(long)",
                "ebpf_fixture::inner(long)", "ebpf_fixture::middle(long)", "ebpf_fixture::outer(long)",
                "ebpf_fixture::twice<int>(int)", "ebpf_fixture::twice<long>(long)",
            ])
        let (termination, demangled) = try runToCompletion("/usr/bin/c++filt", functions.map(\.symbol))
        XCTAssertEqual(termination, .exited(0))
        for (function, line) in zip(functions, demangled.split(separator: "\n").map(String.init)) {
            XCTAssertTrue(line == function.name || line.hasSuffix(" " + function.name), "\(line) → \(function.name)")
        }
        XCTAssertEqual(demangled.split(separator: "\n").count, functions.count)
    }

    /// By its whole demangled name, one overload of a const method: `this`, then the two
    /// arguments; by its name alone, both overloads, counted by their first argument.
    func testMethodArgumentsAndOverloadsByDemangledName() throws {
        try requireKernel()
        let b = try EBPFWrapper()
        defer { b.close() }
        let events = Collected<ProbeEvent>()
        let probe = try b.attach(here("ebpf_fixture::Counter::add(long, long) const"), filter: ourThread) {
            events.append($0)
        }
        XCTAssertEqual(probe.eventName, "uprobe:\(binary):ebpf_fixture::Counter::add(long, long) const")
        let overloads = try b.aggregate(here("Counter::add"), by: .field("arg2"), filter: ourThread)
        XCTAssertEqual([cts_cxx_add(1000, 7, 35), cts_cxx_add(-5, -12, 5), cts_cxx_add_one(2, 7)], [1042, -12, 9])
        XCTAssertTrue(waitUntil { events.count >= 2 }, "\(events.all)")
        XCTAssertTrue(waitForDeliveryOfEverythingWrittenSoFar(b))
        let calls = events.inFiringOrder
        XCTAssertEqual(calls.map { $0.arg2?.intValue }, [7, -12])
        XCTAssertEqual(calls.map { $0.arg3?.intValue }, [35, 5])
        XCTAssertEqual(calls.map { $0.arg1?.intValue == 0 }, [false, false], "`this` is a pointer")
        XCTAssertEqual(try overloads.countsByIntegerKey(), [7: 2, -12: 1])
    }

    /// At the return of one template instantiation, `ret`; a template's name without
    /// arguments probes every instantiation, and a function of an anonymous namespace is
    /// found by its name, by its whole name as listed, and in bpftrace's `cpp:` spelling.
    func testTemplateReturnsAndAnonymousNamespaces() throws {
        try requireKernel()
        let b = try EBPFWrapper()
        defer { b.close() }
        let returns = Collected<ProbeEvent>()
        try b.attach(
            .uretprobe("ebpf_fixture::twice<long>", in: binary, pid: ThisProcess.pid), filter: ourThread
        ) { returns.append($0) }
        let instantiations = try b.aggregate(here("ebpf_fixture::twice"), by: .field("arg1"), filter: ourThread)
        let hidden = try b.aggregate(here("hidden"), by: .field("arg1"), filter: ourThread)
        // As the listing prints it, and in bpftrace's spelling.
        let listed = try b.aggregate(here("ebpf_fixture::(anonymous namespace)::hidden(long)"), filter: ourThread)
        let spelled = try b.aggregate(
            try AttachPoint(parsing: "uprobe:\(binary):cpp:\"ebpf_fixture::(anonymous namespace)::hidden\""),
            filter: ourThread)
        XCTAssertEqual([cts_cxx_twice_long(21), cts_cxx_twice_long(-8), Int(cts_cxx_twice_int(5))], [42, -16, 10])
        XCTAssertEqual(cts_cxx_hidden(100), 99)
        XCTAssertTrue(waitUntil { returns.count >= 2 }, "\(returns.all)")
        XCTAssertTrue(waitForDeliveryOfEverythingWrittenSoFar(b))
        XCTAssertEqual(returns.inFiringOrder.map { $0.ret?.intValue }, [42, -16])
        XCTAssertEqual(try instantiations.countsByIntegerKey(), [21: 1, -8: 1, 5: 1])
        XCTAssertEqual(try hidden.countsByIntegerKey(), [100: 1])
        XCTAssertEqual(try listed.countsByIntegerKey(), [Int.min: 1])
        XCTAssertEqual(try spelled.countsByIntegerKey(), [Int.min: 1])
    }

    /// The user stack at a probe inside `inner` (past its frame set-up) holds the C++ call
    /// chain, innermost first, demangled.
    func testUserStackHoldsTheDemangledCxxChain() throws {
        try requireKernel()
        XCTAssertEqual(try StackFixture.firstBytes(of: "ebpf_fixture::inner"), StackFixture.framePrologue)
        let b = try EBPFWrapper()
        defer { b.close() }
        let events = Collected<ProbeEvent>()
        try b.attach(
            .uprobe("ebpf_fixture::inner", in: binary, offset: StackFixture.framePrologueSize, pid: ThisProcess.pid),
            filter: ourThread,
            options: ProbeOptions(stacks: .user)
        ) { events.append($0) }
        XCTAssertEqual(cts_cxx_outer(5), 17)
        XCTAssertTrue(waitUntil { events.count >= 1 })
        let stack = try XCTUnwrap(events.all.first?.userStack)
        XCTAssertEqual(
            Array(stack.prefix(3).map(\.function)),
            ["ebpf_fixture::inner(long)", "ebpf_fixture::middle(long)", "ebpf_fixture::outer(long)"], "\(stack)")
        XCTAssertEqual(Set(stack.prefix(3).compactMap(\.module)), [binary])
    }
}
