import Foundation
import XCTest

@testable import EBPF

/// Events lent in place (`attachBorrowing`): the same header and fields as copied events,
/// a copy that outlives the call, and probes attached together told apart.
final class BorrowedEventTests: XCTestCase {
    /// What a closure reads of a view, copied out as values.
    private struct Seen: Sendable, Equatable {
        var eventName: String
        var processID: Int32
        var threadID: Int32
        var userID: UInt32
        var processName: String
        var fd: Int?
        var fields: [String]
    }

    func testABorrowedEventReadsAsACopiedOneAndCopiesOut() throws {
        try requireKernel()
        let b = try EBPFWrapper()
        defer { b.close() }
        let seen = Collected<Seen>()
        let copies = Collected<ProbeEvent>()
        let copied = Collected<ProbeEvent>()
        let points: [AttachPoint] = [.syscall("fchdir"), .syscall("getppid")]
        let probes = try b.attachBorrowing(points, filter: ourThread) { event in
            seen.append(
                Seen(
                    eventName: event.eventName, processID: event.processID, threadID: event.threadID,
                    userID: event.userID, processName: event.processName, fd: event.fd?.intValue,
                    fields: event.fields.map(\.name)))
            copies.append(event.copy())
        }
        try b.attach(points, filter: ourThread) { copied.append($0) }
        XCTAssertEqual(probes.map(\.eventName), ["syscalls:sys_enter_fchdir", "syscalls:sys_enter_getppid"])

        XCTAssertEqual(fchdir(900_071), -1)
        _ = getppid()
        XCTAssertTrue(waitUntil { seen.count == 2 && copied.count == 2 }, "\(seen.all)")
        XCTAssertTrue(waitForDeliveryOfEverythingWrittenSoFar(b))
        let name = ThisProcess.comm
        XCTAssertEqual(
            seen.all.sorted { $0.eventName < $1.eventName },
            [
                Seen(
                    eventName: "syscalls:sys_enter_fchdir", processID: ThisProcess.pid, threadID: ThisProcess.tid,
                    userID: getuid(), processName: name, fd: 900_071, fields: ["fd"]),
                Seen(
                    eventName: "syscalls:sys_enter_getppid", processID: ThisProcess.pid, threadID: ThisProcess.tid,
                    userID: getuid(), processName: name, fd: nil, fields: []),
            ])
        // Copied out of the view, the event is the one the copying path delivers.
        for (copy, event) in zip(copies.inFiringOrder, copied.inFiringOrder) {
            XCTAssertEqual(copy.eventName, event.eventName)
            XCTAssertEqual(copy.threadID, event.threadID)
            XCTAssertEqual(copy.fields, event.fields)
            XCTAssertEqual(copy.cpu, event.cpu)
        }
        XCTAssertEqual(probes.map(\.receivedCount), [1, 1])
    }
}
