@_spi(Generator) @testable import EBPF
import Foundation
import XCTest

/// Uprobes and uretprobes on this test binary's own Swift functions
/// (``SwiftFunctionFixture``), named as people write them: exact arguments, return values,
/// counts and latencies of calls the test makes.
final class SwiftUprobeTests: XCTestCase {
    let binary = SwiftFunctionFixture.binary
    func here(_ function: String) -> AttachPoint { .uprobe(function, in: binary, pid: ThisProcess.pid) }

    func returnOf(_ function: String) -> AttachPoint { .uretprobe(function, in: binary, pid: ThisProcess.pid) }

    /// By its full Swift name: each call's two arguments (the struct's `self` is not in an
    /// argument register), signed; the overload without `to:` is not probed.
    func testArgumentsOfAMethodByItsSwiftName() throws {
        try requireKernel()
        let b = try EBPFWrapper()
        defer { b.close() }
        let events = Collected<ProbeEvent>()
        let probe = try b.attach(
            here("EBPFTests.SwiftFunctionFixture.Calculator.add(_:to:)"), filter: ourThread
        ) { events.append($0) }
        XCTAssertEqual(probe.eventName, "uprobe:\(binary):EBPFTests.SwiftFunctionFixture.Calculator.add(_:to:)")
        let calculator = SwiftFunctionFixture.Calculator.make(base: 1000)
        XCTAssertEqual([calculator.add(7, to: 35), calculator.add(-12, to: 5), calculator.add(3)], [1042, 993, 1003])
        XCTAssertTrue(waitUntil { events.count >= 2 }, "\(events.all)")
        XCTAssertTrue(waitForDeliveryOfEverythingWrittenSoFar(b))
        let calls = events.inFiringOrder
        XCTAssertEqual(calls.map { $0.arg1?.intValue }, [7, -12])
        XCTAssertEqual(calls.map { $0.arg2?.intValue }, [35, 5])
        XCTAssertEqual(Set(calls.map(\.threadID)), [ThisProcess.tid])
        XCTAssertEqual(calls.first?.fields.map(\.name), ["arg1", "arg2", "arg3", "arg4", "arg5", "arg6"])
    }

    /// At the return, `ret`: the value each call returned; a shorter name (no module) finds
    /// the same function.
    func testReturnValuesOfAMethod() throws {
        try requireKernel()
        let b = try EBPFWrapper()
        defer { b.close() }
        let events = Collected<ProbeEvent>()
        try b.attach(returnOf("Calculator.add(_:to:)"), filter: ourThread) { events.append($0) }
        let calculator = SwiftFunctionFixture.Calculator.make(base: -50)
        XCTAssertEqual([calculator.add(7, to: 35), calculator.add(1, to: 2), calculator.add(9)], [-8, -47, -41])
        XCTAssertTrue(waitUntil { events.count >= 2 }, "\(events.all)")
        XCTAssertTrue(waitForDeliveryOfEverythingWrittenSoFar(b))
        XCTAssertEqual(events.inFiringOrder.map { $0.ret?.intValue }, [-8, -47])
        XCTAssertEqual(events.all.first?.fields.map(\.name), ["ret"])
    }

    /// Without labels a name probes every overload; `static` names the static method; an
    /// extension's method is found by its type's name; counts are kept by argument.
    func testOverloadsStaticAndExtensionMethodsCountedByArgument() throws {
        try requireKernel()
        let b = try EBPFWrapper()
        defer { b.close() }
        let adds = try b.aggregate(here("Calculator.add"), by: .field("arg1"), filter: ourThread)
        let makes = try b.aggregate(here("static SwiftFunctionFixture.Calculator.make(base:)"), filter: ourThread)
        let scaled = try b.aggregate(here("Calculator.scaled(by:)"), by: .field("arg1"), filter: ourThread)
        let calculator = SwiftFunctionFixture.Calculator.make(base: 2)
        _ = SwiftFunctionFixture.Calculator.make(base: 3)
        XCTAssertEqual(calculator.add(5, to: 1) + calculator.add(5) + calculator.add(6), 2 + 5 + 1 + 2 + 5 + 2 + 6)
        XCTAssertEqual(calculator.scaled(by: 21), 42)
        XCTAssertEqual(try adds.countsByIntegerKey(), [5: 2, 6: 1])
        XCTAssertEqual(try makes.countsByIntegerKey(), [Int.min: 2])
        XCTAssertEqual(try scaled.countsByIntegerKey(), [21: 1])
    }

    /// A shell pattern and a regular expression probe every function they match: each
    /// call counted once.
    func testPatternsProbeEveryMatch() throws {
        try requireKernel()
        let b = try EBPFWrapper()
        defer { b.close() }
        let byPattern = try b.aggregate(here("SwiftFunctionFixture.Calculator.add*"), filter: ourThread)
        let byExpression = try b.aggregate(here("/Calculator\\.(add|scaled)\\(/"), filter: ourThread)
        let calculator = SwiftFunctionFixture.Calculator.make(base: 0)
        XCTAssertEqual(calculator.add(1, to: 2) + calculator.add(3) + calculator.scaled(by: 4), 6)
        XCTAssertEqual(try byPattern.countsByIntegerKey(), [Int.min: 2])
        XCTAssertEqual(try byExpression.countsByIntegerKey(), [Int.min: 3])
    }

    /// The mangled symbol as binutils' `nm` lists it works too, and a generic and a
    /// throwing function are found by their names.
    func testMangledGenericAndThrowingFunctions() throws {
        try requireKernel()
        let (termination, listing) = try runToCompletion("/usr/bin/nm", ["--defined-only", binary])
        XCTAssertEqual(termination, .exited(0))
        // nm's lines are `ADDRESS TYPE NAME`: the function (text, `t` or `T`) whose mangled
        // name says Calculator.scaled(by:) (a sanitizer's build adds string data named alike).
        var mangled: [String] = []
        for line in listing.split(separator: "\n") {
            let parts = line.split(separator: " ").map(String.init)
            guard parts.count == 3, parts[1] == "t" || parts[1] == "T", parts[2].hasPrefix("$s") else { continue }
            if parts[2].contains("20SwiftFunctionFixtureO10CalculatorV6scaled2by") { mangled.append(parts[2]) }
        }
        XCTAssertEqual(mangled.count, 1, "\(mangled)")
        let b = try EBPFWrapper()
        defer { b.close() }
        let scaled = try b.aggregate(here(try XCTUnwrap(mangled.first)), by: .field("arg1"), filter: ourThread)
        let identities = try b.aggregate(here("SwiftFunctionFixture.identity(_:)"), filter: ourThread)
        let doubles = try b.aggregate(here("SwiftFunctionFixture.doubled(_:)"), by: .field("arg1"), filter: ourThread)
        XCTAssertEqual(SwiftFunctionFixture.Calculator(base: 3).scaled(by: 7), 21)
        XCTAssertEqual(SwiftFunctionFixture.identity(5), 5)
        XCTAssertEqual(SwiftFunctionFixture.identity("five"), "five")
        XCTAssertEqual(SwiftFunctionFixture.identity(5.5), 5.5)
        XCTAssertEqual(try SwiftFunctionFixture.doubled(21), 42)
        XCTAssertThrowsError(try SwiftFunctionFixture.doubled(-4))
        XCTAssertEqual(try scaled.countsByIntegerKey(), [7: 1])
        XCTAssertEqual(try identities.countsByIntegerKey(), [Int.min: 3])
        XCTAssertEqual(try doubles.countsByIntegerKey(), [-4: 1, 21: 1])
    }

    /// A uprobe to uretprobe latency: each nap lies between what it asked and what the
    /// caller measured around it.
    func testLatencyOfAFunctionThatSleeps() throws {
        try requireKernel()
        let b = try EBPFWrapper()
        defer { b.close() }
        let naps = try b.aggregate(here("SwiftFunctionFixture.nap(milliseconds:)"), .latency, filter: ourThread)
        XCTAssertEqual(naps.program.histogramValueName, "nsecs")
        var measured: Int64 = 0
        for _ in 0..<3 {
            let start = ContinuousClock.now
            XCTAssertEqual(SwiftFunctionFixture.nap(milliseconds: 20), 20)
            measured += Int64((ContinuousClock.now - start) / .nanoseconds(1))
        }
        let entry = try XCTUnwrap(try naps.snapshot().first)
        XCTAssertEqual(entry.count, 3)
        let sum = try XCTUnwrap(entry.sum)
        XCTAssertTrue((60_000_000...measured).contains(sum), "\(sum) ns in 60 ms...\(measured) ns")
        XCTAssertEqual(try XCTUnwrap(entry.histogram).counts.reduce(0, +), 3)
    }

    /// Under recursion each call is timed from its own entry: four nested calls give four
    /// latencies, the call at depth d lasting at least d naps.
    func testRecursiveCallsAreEachTimedFromTheirOwnEntry() throws {
        try requireKernel()
        let b = try EBPFWrapper()
        defer { b.close() }
        let calls = try b.aggregate(
            here("SwiftFunctionFixture.nested(depth:milliseconds:)"), .latency, filter: ourThread)
        let start = ContinuousClock.now
        XCTAssertEqual(SwiftFunctionFixture.nested(depth: 4, milliseconds: 10), 40)
        let measured = Int64((ContinuousClock.now - start) / .nanoseconds(1))
        let entry = try XCTUnwrap(try calls.snapshot().first)
        XCTAssertEqual(entry.count, 4)
        let sum = try XCTUnwrap(entry.sum)
        XCTAssertTrue((100_000_000...4 * measured).contains(sum), "\(sum) ns in 100 ms...\(4 * measured) ns")
    }

    /// What cannot be probed says why: no such function, an offset into several, and
    /// text that cannot be a name.
    func testErrorsSayWhatIsWrong() throws {
        try requireKernel()
        let b = try EBPFWrapper()
        defer { b.close() }
        XCTAssertThrowsError(try b.attach(here("SwiftFunctionFixture.noSuchFunction(_:)")) { _ in }) { error in
            let error = error as! EBPFError
            XCTAssertEqual(error.code, .notFound)
            XCTAssertTrue(error.message.contains("SwiftFunctionFixture.noSuchFunction(_:)"), error.message)
            XCTAssertTrue(error.message.contains(self.binary), error.message)
        }
        XCTAssertThrowsError(
            try b.attach(.uprobe("Calculator.add", in: binary, offset: 4, pid: ThisProcess.pid)) { _ in }
        ) { error in
            let error = error as! EBPFError
            XCTAssertEqual(error.code, .invalidArgument)
            XCTAssertTrue(error.message.contains("an offset needs one function"), error.message)
        }
        for hostile in ["add\"); system(\"x", "add\nnext", "../../etc/passwd", String(repeating: "a", count: 10_000)] {
            XCTAssertThrowsError(try b.attach(here(hostile)) { _ in }, hostile) { error in
                XCTAssertEqual((error as! EBPFError).code, .invalidArgument, "\(error)")
            }
        }
        XCTAssertTrue(b.session.probes.isEmpty, "nothing half attached")
    }
}
