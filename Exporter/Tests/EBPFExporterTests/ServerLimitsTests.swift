import Foundation
import XCTest

/// The exporter under abuse on loopback, within counts and times the test bounds: many idle
/// connections, a client that sends its request a byte at a time, an oversized request head
/// and a request with a body that never ends.
final class ServerLimitsTests: XCTestCase {
    /// With 200 idle connections held, every scrape answers and the exporter holds no more
    /// connections than its limit; once the idle connections close, its descriptors are back
    /// where they were; memory grows by less than 32 MiB. An oversized head and a body are
    /// refused. (The idle timeout is long here, so that only the test closes connections:
    /// accepting 200 under software emulation can take longer than a short one.)
    func testIdleConnectionsAndOversizedRequestsLeaveScrapesAnsweringAndResourcesBounded() throws {
        try KernelTestGate.require(geteuid() == 0, "not root")
        let limit = 256
        let exporter = try ExporterProcess(
            configuration: WebSecurityTests.configuration,
            arguments: ["--web.max-connections", "\(limit)", "--web.idle-timeout", "3600"])
        defer { XCTAssertEqual(exporter.stop(), 0) }
        // The descriptors before any connection; the memory after a first scrape, which has
        // allocated what later ones reuse.
        let descriptors = exporter.openDescriptors
        XCTAssertTrue(try LoopbackConnection.get("/metrics", port: exporter.port).hasPrefix("HTTP/1.1 200 OK"))
        let memory = exporter.residentKilobytes
        waitUntil(exporter.openConnections == 0)

        var idlers = try (0..<200).map { _ in try LoopbackConnection(port: exporter.port) }
        waitUntil(exporter.openConnections >= idlers.count)
        XCTAssertEqual(exporter.openConnections, idlers.count, "the exporter holds them")
        var mostConnections = 0
        for _ in 0..<20 {
            let scrape = try LoopbackConnection.get("/metrics", port: exporter.port)
            XCTAssertTrue(scrape.hasPrefix("HTTP/1.1 200 OK"), scrape)
            XCTAssertTrue(scrape.contains("web_getppid_total"), scrape)
            mostConnections = max(mostConnections, exporter.openConnections)
        }
        XCTAssertGreaterThanOrEqual(mostConnections, idlers.count, "scrapes answered beside them")
        XCTAssertLessThanOrEqual(mostConnections, limit, "no more connections than the limit")
        let heldMemory = exporter.residentKilobytes
        XCTAssertLessThanOrEqual(
            heldMemory - memory, 32 * 1024, "resident kB before: \(memory), with 200 idle connections: \(heldMemory)")

        idlers.removeAll()
        waitUntil(exporter.openConnections == 0 && exporter.openDescriptors <= descriptors)
        XCTAssertEqual(exporter.openConnections, 0)
        XCTAssertEqual(exporter.openDescriptors, descriptors, "every connection's descriptor given back")
        print(
            "LIMITS descriptors=\(descriptors)->\(exporter.openDescriptors) most_connections=\(mostConnections) rss_kb=\(memory)->\(heldMemory)"
        )

        // An oversized head: refused with 400 and closed. The exporter stops reading it, so
        // what this side still sent, and its close, wait in the exporter's queue until the
        // exporter stops (or an idle timeout): hence last here.
        do {
            let big = try LoopbackConnection(port: exporter.port)
            big.send(
                Array("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ".utf8)
                    + Array(repeating: 97, count: 1 << 20))
            XCTAssertTrue(
                String(decoding: big.readUntilClosed(timeout: .seconds(60)) ?? [], as: UTF8.self).hasPrefix(
                    "HTTP/1.1 400 Bad Request"))
        }
        // A body: refused with 413, and the connection closed while its sender still sends a
        // byte every 10 ms (which would hold it open if the body were being read).
        do {
            let body = try LoopbackConnection(port: exporter.port)
            body.send(
                Array("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000000000\r\n\r\n".utf8))
            var bodyBytes = 0
            while body.send([98]), bodyBytes < 3000 {
                bodyBytes += 1
                usleep(10_000)
            }
            XCTAssertLessThan(bodyBytes, 3000, "closed while the body was still coming (30 s of it)")
            XCTAssertTrue(
                String(decoding: body.readUntilClosed(timeout: .seconds(60)) ?? [], as: UTF8.self).hasPrefix(
                    "HTTP/1.1 413 Payload Too Large"))
        }
    }

    /// A connection that sends no complete request within `--web.idle-timeout` is closed:
    /// one that never speaks, and one that sends its request head a byte every 50 ms; then
    /// the exporter holds no connection.
    func testConnectionsThatSendNoCompleteRequestAreClosedByTheIdleTimeout() throws {
        try KernelTestGate.require(geteuid() == 0, "not root")
        let exporter = try ExporterProcess(
            configuration: WebSecurityTests.configuration, arguments: ["--web.idle-timeout", "2"])
        defer { XCTAssertEqual(exporter.stop(), 0) }
        var silent = try (0..<20).map { _ in try LoopbackConnection(port: exporter.port) }
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
        for connection in silent {
            XCTAssertEqual(connection.readUntilClosed(timeout: .seconds(120)), [], "closed, having sent nothing")
        }
        XCTAssertEqual(slowStopped.wait(timeout: .now() + 120), .success, "the slow client was closed")
        silent.removeAll()
        waitUntil(exporter.openConnections == 0)
        XCTAssertEqual(exporter.openConnections, 0)
    }

    /// Past `--web.max-connections`, connections wait in the listen backlog: the exporter
    /// holds exactly the limit's connections, takes a waiting one as a held one closes, and
    /// holds none once they all have.
    func testConnectionsPastTheLimitWaitAndDescriptorsStayAtTheLimit() throws {
        try KernelTestGate.require(geteuid() == 0, "not root")
        let limit = 20
        let exporter = try ExporterProcess(
            configuration: WebSecurityTests.configuration, arguments: ["--web.max-connections", "\(limit)"])
        defer { XCTAssertEqual(exporter.stop(), 0) }
        var clients = try (0..<(limit + 10)).map { _ in try LoopbackConnection(port: exporter.port) }
        waitUntil(exporter.openConnections >= limit)
        var samples: [Int] = []
        for _ in 0..<20 {
            samples.append(exporter.openConnections)
            usleep(10_000)
        }
        XCTAssertEqual(Set(samples), [limit], "the limit's connections, no more")
        // Every client sends its request; each one answered is closed, and a waiting one is
        // taken in its place and answered.
        for client in clients {
            client.send(Array("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8))
        }
        while !clients.isEmpty {
            let response = String(
                decoding: clients.removeFirst().readUntilClosed(timeout: .seconds(60)) ?? [], as: UTF8.self)
            XCTAssertTrue(response.hasPrefix("HTTP/1.1 200 OK"), response)
        }
        waitUntil(exporter.openConnections == 0)
        XCTAssertEqual(exporter.openConnections, 0)
    }

    /// Polls `condition` every 10 ms until it holds or 2 minutes have passed (a loaded
    /// emulated guest is slow, and a passing test waits no longer than it must); the caller
    /// asserts.
    private func waitUntil(_ condition: @autoclosure () -> Bool) {
        let deadline = ContinuousClock.now + .seconds(120)
        while !condition(), ContinuousClock.now < deadline { usleep(10_000) }
    }
}
