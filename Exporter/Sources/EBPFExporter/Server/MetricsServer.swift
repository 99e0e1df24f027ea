import Hummingbird
import Logging
import NIOCore

/// The HTTP side: `GET /metrics` answers with the exporter's metrics in Prometheus's text
/// format; a service for swift-service-lifecycle's `ServiceGroup`, which stops it gracefully
/// on SIGTERM.
public enum MetricsServer {
    /// The default listening address: every interface, so that a Prometheus server elsewhere
    /// can scrape it, on the port after ebpf_exporter's 9435.
    public static let defaultAddress = "0.0.0.0:9436"

    /// The application serving `exporter` on `address` (`host:port`; port 0 picks a free
    /// one). `onRunning` is called with the port once it listens.
    ///
    /// - Throws: ``ListenAddressError`` for an address that is not `host:port`.
    public static func application(
        serving exporter: Exporter, on address: String, logger: Logger,
        onRunning: @escaping @Sendable (_ port: Int) async -> Void = { _ in }
    ) throws(ListenAddressError) -> some ApplicationProtocol {
        let (host, port) = try parse(address)
        let router = Router()
        router.get("/metrics") { _, _ -> Response in
            do {
                let text = try exporter.metricsText()
                return Response(
                    status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                    body: .init(byteBuffer: ByteBuffer(string: text)))
            } catch {
                logger.error("a scrape failed", metadata: ["error": "\(error)"])
                return Response(
                    status: .internalServerError, headers: [.contentType: "text/plain; charset=utf-8"],
                    body: .init(byteBuffer: ByteBuffer(string: "\(error)\n")))
            }
        }
        router.get("/") { _, _ in "ebpf-exporter: the metrics are at /metrics\n" }
        return Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "ebpf-exporter"),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? port) },
            logger: logger)
    }

    /// `host:port` split; the host may be bracketed (`[::1]:9436`).
    static func parse(_ address: String) throws(ListenAddressError) -> (host: String, port: Int) {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]),
            (0...65535).contains(port)
        else { throw ListenAddressError(address: address) }
        var host = String(address[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw ListenAddressError(address: address) }
        return (host, port)
    }
}

/// A listening address that is not `host:port`.
public struct ListenAddressError: Error, Sendable, CustomStringConvertible {
    public var address: String
    public var description: String {
        "'\(address)' is not a listening address; write HOST:PORT, e.g. 127.0.0.1:9436 or 0.0.0.0:9436"
    }
}
