import Foundation
import XCTest

/// The exporter under abuse on loopback, within counts and times the test bounds: many idle
/// connections, a client that sends its request a byte at a time, an oversized request head
/// and a request with a body that never ends.
final class ServerLimitsTests: XCTestCase {
    /// With 200 idle connections and a slow client held open, every scrape answers; the
    /// exporter's descriptors never exceed its connection limit, every connection that sends
    /// no complete request is closed by the idle timeout, after which its descriptors are
    /// back where they were; memory grows by less than 32 MiB.
    func testIdleConnectionsASlowClientAndOversizedRequestsLeaveScrapesAnsweringAndResourcesBounded() throws {
        try KernelTestGate.require(geteuid() == 0, "not root")
        let (limit, idle) = (256, 30)
        let exporter = try ExporterProcess(
            configuration: WebSecurityTests.configuration,
            arguments: ["--web.max-connections", "\(limit)", "--web.idle-timeout", "\(idle)"])
        defer { XCTAssertEqual(exporter.stop(), 0) }
        // Before any connection; the memory after a first scrape has allocated what later
        // ones reuse.
        let descriptors = exporter.openDescriptors
        XCTAssertTrue(try LoopbackConnection.get("/metrics", port: exporter.port).hasPrefix("HTTP/1.1 200 OK"))
        let memory = exporter.residentKilobytes

        var idlers = try (0..<200).map { _ in try LoopbackConnection(port: exporter.port) }
        let accepted = ContinuousClock.now + .seconds(60)
        while exporter.openDescriptors < descriptors + idlers.count, ContinuousClock.now < accepted {
            usleep(10_000)
        }
        XCTAssertGreaterThanOrEqual(exporter.openDescriptors, descriptors + idlers.count, "the exporter holds them")
        // A slow client: its request head a byte at a time, never finished.
        let slow = try LoopbackConnection(port: exporter.port)
        let slowStopped = DispatchSemaphore(value: 0)
        let slowSender = Thread {
            let head = Array("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ".utf8)
            var sent = 0
            while slow.send([sent < head.count ? head[sent] : UInt8(ascii: "a")]) {
                sent += 1
                usleep(50_000)
            }
            slowStopped.signal()
        }
        slowSender.start()
        // An oversized head: refused with 400 and closed.
        let big = try LoopbackConnection(port: exporter.port)
        big.send(
            Array("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ".utf8) + Array(repeating: 97, count: 1 << 20))
        XCTAssertTrue(
            String(decoding: big.readUntilClosed(timeout: .seconds(60)) ?? [], as: UTF8.self).hasPrefix(
                "HTTP/1.1 400 Bad Request"))
        // A body: refused with 413 at once, its 8 MiB sent and not kept.
        let body = try LoopbackConnection(port: exporter.port)
        body.send(Array("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000000000\r\n\r\n".utf8))
        for _ in 0..<128 where body.send(Array(repeating: 98, count: 1 << 16)) {}
        XCTAssertTrue(
            String(decoding: body.read(until: Array("\r\n\r\n".utf8), timeout: .seconds(60)), as: UTF8.self)
                .hasPrefix("HTTP/1.1 413 Payload Too Large"))

        var mostDescriptors = 0
        for _ in 0..<20 {
            let scrape = try LoopbackConnection.get("/metrics", port: exporter.port)
            XCTAssertTrue(scrape.hasPrefix("HTTP/1.1 200 OK"), scrape)
            XCTAssertTrue(scrape.contains("web_getppid_total"), scrape)
            mostDescriptors = max(mostDescriptors, exporter.openDescriptors)
        }
        XCTAssertGreaterThanOrEqual(mostDescriptors, descriptors + idlers.count, "scrapes answered beside them")
        XCTAssertLessThanOrEqual(mostDescriptors, descriptors + limit, "no more descriptors than the connection limit")
        let heldMemory = exporter.residentKilobytes
        XCTAssertLessThanOrEqual(
            heldMemory - memory, 32 * 1024, "resident kB before: \(memory), with 200 idle connections: \(heldMemory)")

        // Each connection that sent no complete request is closed by the exporter.
        for idler in idlers {
            XCTAssertEqual(idler.readUntilClosed(timeout: .seconds(120)), [], "closed, having sent nothing")
        }
        XCTAssertEqual(slowStopped.wait(timeout: .now() + 120), .success, "the slow client was closed")
        XCTAssertNotNil(body.readUntilClosed(timeout: .seconds(120)), "the body's sender was closed")
        idlers.removeAll()
        let deadline = ContinuousClock.now + .seconds(60)
        while exporter.openDescriptors > descriptors, ContinuousClock.now < deadline { usleep(20_000) }
        XCTAssertEqual(exporter.openDescriptors, descriptors, "every connection's descriptor given back")
        print(
            "LIMITS descriptors=\(descriptors)->\(mostDescriptors)->\(exporter.openDescriptors) rss_kb=\(memory)->\(heldMemory)"
        )
    }
}
