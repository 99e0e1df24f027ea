import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL

/// The HTTP side: `GET /metrics` answers with the exporter's metrics in Prometheus's text
/// format, over TLS and behind basic authentication as a ``WebConfiguration`` says; a service for swift-service-lifecycle's `ServiceGroup`, which stops it gracefully
/// on SIGTERM.
public enum MetricsServer {
    /// The default listening address: every interface, so that a Prometheus server elsewhere
    /// can scrape it, on the port after ebpf_exporter's 9435.
    public static let defaultAddress = "0.0.0.0:9436"

    /// The application serving `exporter` on `address` (`host:port`; port 0 picks a free
    /// one), over TLS and behind basic authentication if `web` says so, within `limits`.
    /// `onRunning` is called with the port once it listens.
    ///
    /// - Throws: ``ListenAddressError`` for an address that is not `host:port`;
    ///   ``ConfigurationError`` for a certificate or key that cannot be loaded.
    public static func application(
        serving exporter: Exporter, on address: String, web: WebConfiguration = .init(),
        limits: ServerLimits = .init(), logger: Logger,
        onRunning: @escaping @Sendable (_ port: Int) async -> Void = { _ in }
    ) throws -> some ApplicationProtocol {
        let (host, port) = try parse(address)
        let router = Router()
        router.add(middleware: ResponseHeaders(headers: web.headers))
        if !web.basicAuthUsers.isEmpty {
            router.add(middleware: BasicAuthentication(verifier: PasswordVerifier(users: web.basicAuthUsers)))
        }
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
        let (seconds, attoseconds) = limits.idleTimeout.components
        let http = HTTP1Channel.Configuration(
            additionalChannelHandlers: [RequestBodyRefusal()],
            // At most a year: TimeAmount counts nanoseconds in an Int64.
            idleTimeout: .nanoseconds(min(seconds, 31_536_000) * 1_000_000_000 + attoseconds / 1_000_000_000),
            httpDecoderConfiguration: .init(
                maxHeaderFieldSize: limits.maximumHeadBytes, maxHeaderListSize: limits.maximumHeadBytes,
                maxHeaderFieldCount: 100))
        let server: HTTPServerBuilder
        if let tls = web.tls {
            let configuration: TLSConfiguration
            do {
                configuration = try tls.serverConfiguration()
            } catch {
                throw ConfigurationError(file: error.file, line: 0, column: 0, message: error.reason)
            }
            server = try .tls(.http1(configuration: http), tlsConfiguration: configuration)
        } else {
            server = .http1(configuration: http)
        }
        let connectionLimit = ConnectionLimit(limits.maximumConnections)
        return Application(
            router: router, server: server,
            configuration: .init(
                address: .hostname(host, port: port), serverName: "ebpf-exporter",
                availableConnectionsDelegate: connectionLimit),
            onServerRunning: { channel in
                do {
                    try await connectionLimit.open(channel)
                } catch {
                    logger.error(
                        "could not set how many connections the listener accepts at once: a first burst may pass the connection limit",
                        metadata: ["error": "\(error)"])
                }
                await onRunning(channel.localAddress?.port ?? port)
            },
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
