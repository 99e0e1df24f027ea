import ArgumentParser
import EBPFExporter
import Foundation
import Logging
import Metrics
import Prometheus
import ServiceLifecycle

/// `ebpf-exporter --config FILE`: serves the configuration's metrics until SIGTERM or SIGINT,
/// then detaches everything.
@main
struct ExporterCommand: AsyncParsableCommand {
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

    func run() async throws {
        var logger = Logger(label: "ebpf-exporter")
        logger.logLevel = .info
        let configuration = try ExporterConfiguration(contentsOf: config)
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let exporter = try Exporter(configuration, registry: registry, logger: logger)
        defer { exporter.close() }
        let address = listen ?? configuration.listen ?? MetricsServer.defaultAddress
        let application = try MetricsServer.application(serving: exporter, on: address, logger: logger) { port in
            // One line on stdout once it listens: scripts (and the tests) wait for it.
            FileHandle.standardOutput.write(Data("ebpf-exporter: serving /metrics on port \(port)\n".utf8))
        }
        let group = ServiceGroup(
            configuration: .init(services: [application], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
