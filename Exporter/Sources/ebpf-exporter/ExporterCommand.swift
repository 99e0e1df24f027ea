import ArgumentParser
import EBPFExporter
import Foundation
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import Synchronization

/// `ebpf-exporter --config FILE`: serves the configuration's metrics until SIGTERM or SIGINT,
/// then detaches everything.
///
/// A synchronous command: its programs are attached and its capabilities dropped on the main
/// thread before any Dispatch or Swift concurrency thread exists (those block the signal
/// that drops capabilities in a thread), so every thread that later parses a request starts
/// from the main thread's reduced set.
@main
struct ExporterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ebpf-exporter",
        abstract: "Serves kernel aggregations and BPF tables as Prometheus metrics.",
        discussion:
            "The configuration (YAML) names aggregations the library generates (no C) and programs of your own whose tables become metrics: see Exporter/examples/."
    )

    @Option(name: .long, help: "The configuration file (YAML).")
    var config: String

    @Option(
        name: .long,
        help:
            "Where to serve /metrics, HOST:PORT (default: the configuration's 'listen', else \(MetricsServer.defaultAddress))."
    )
    var listen: String?

    @Option(
        name: .customLong("web.config.file"),
        help:
            "A web configuration (YAML, Prometheus exporter-toolkit's format): TLS (tls_server_config) and basic authentication (basic_auth_users). Without it, plain HTTP to anyone."
    )
    var webConfigFile: String?

    @Option(
        name: .customLong("web.max-connections"),
        help: "Connections served at once; more wait in the listen backlog.")
    var maximumConnections = ServerLimits().maximumConnections

    @Option(
        name: .customLong("web.idle-timeout"),
        help: "Seconds after which a connection that sends no complete request is closed.")
    var idleTimeoutSeconds = Double(ServerLimits().idleTimeout.components.seconds)

    @Flag(
        name: .customLong("bpf-stats"),
        help:
            "Turn the kernel's BPF run-time statistics on while serving (BPF_ENABLE_STATS; every program on the machine then costs about two clock reads more per run), for ebpf_program_run_count_total and ebpf_program_run_time_seconds."
    )
    var programStatistics = false

    @Flag(
        name: .customLong("keep-capabilities"),
        help:
            "Serve with every capability the exporter started with. By default it keeps only CAP_BPF (reading its maps) once its programs are attached, and CAP_NET_BIND_SERVICE for a port below 1024."
    )
    var keepCapabilities = false

    func validate() throws {
        guard (1...1_000_000).contains(maximumConnections) else {
            throw ValidationError("--web.max-connections must be from 1 to 1000000")
        }
        guard (0.001...86_400).contains(idleTimeoutSeconds) else {
            throw ValidationError("--web.idle-timeout must be from 0.001 to 86400 seconds")
        }
    }

    func run() throws {
        if !keepCapabilities { Capabilities.prepareToDrop() }
        var logger = Logger(label: "ebpf-exporter")
        logger.logLevel = .info
        let configuration = try ExporterConfiguration(contentsOf: config)
        let web = try webConfigFile.map { path throws(ConfigurationError) in try WebConfiguration(contentsOf: path) }
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let exporter = try Exporter(
            configuration, registry: registry, programStatistics: programStatistics, logger: logger)
        defer { exporter.close() }
        let address = listen ?? configuration.listen ?? MetricsServer.defaultAddress
        let limits = ServerLimits(
            maximumConnections: maximumConnections, idleTimeout: .milliseconds(Int64(idleTimeoutSeconds * 1000)))
        let application = try MetricsServer.application(
            serving: exporter, on: address, web: web ?? WebConfiguration(), limits: limits, logger: logger
        ) { port in
            // One line on stdout once it listens: scripts (and the tests) wait for it.
            FileHandle.standardOutput.write(Data("ebpf-exporter: serving /metrics on port \(port)\n".utf8))
        }
        if !keepCapabilities {
            let port = Int(address.split(separator: ":").last ?? "") ?? 0
            try Capabilities.dropAll(
                keeping: [Capabilities.bpf] + (port > 0 && port < 1024 ? [Capabilities.bindPrivilegedPort] : []))
        }
        let group = ServiceGroup(
            configuration: .init(services: [application], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try Self.wait { try await group.run() }
    }

    /// Runs `body` on Swift concurrency's threads, the calling thread waiting for its end.
    private static func wait(_ body: @escaping @Sendable () async throws -> Void) throws {
        let outcome = Mutex<(any Error)?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task {
            do { try await body() } catch { outcome.withLock { $0 = error } }
            done.signal()
        }
        done.wait()
        if let error = outcome.withLock({ $0 }) { throw error }
    }
}
