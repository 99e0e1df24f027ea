import Dispatch
import EBPF
import Logging
import Prometheus

/// The aggregations and programs a configuration names, running, and their metrics as
/// Prometheus text on demand.
///
/// ```swift
/// let exporter = try Exporter(try ExporterConfiguration(contentsOf: "syscalls.yaml"))
/// defer { exporter.close() }
/// print(try exporter.metricsText())
/// ```
public final class Exporter: Sendable {
    /// The wrapper of the aggregations, if any, and one per program.
    private let closers: [@Sendable () -> Void]
    private let aggregations: [AggregationSource]
    private let tables: [TableSource]
    private let programs: ProgramStatisticsSource
    /// What swift-metrics reported (the library's health, through
    /// `PrometheusMetricsFactory`), served before the kernel's metrics.
    private let registry: PrometheusCollectorRegistry?

    /// Compiles, loads and attaches everything `configuration` names. Nothing stays
    /// attached when one of them fails.
    ///
    /// - Parameters:
    ///   - registry: Metrics reported through swift-metrics, served too.
    ///   - programStatistics: Turns the kernel's run-time statistics on (for every program
    ///     on the machine, at about two clock reads per run) while the exporter runs, so that
    ///     it serves each program's runs and run time.
    /// - Throws: ``ExporterError`` naming the metric or program that failed and why.
    public init(
        _ configuration: ExporterConfiguration, registry: PrometheusCollectorRegistry? = nil,
        programStatistics: Bool = false, logger: Logger = Logger(label: "ebpf-exporter")
    ) throws(ExporterError) {
        self.registry = registry
        programs = ProgramStatisticsSource(
            recording: programStatistics
                ? try Self.attempt("turning program statistics on (--bpf-stats)") { () throws(EBPFError) in
                    try ProgramStatistics.Recording()
                } : nil)
        var closers: [@Sendable () -> Void] = []
        var aggregations: [AggregationSource] = []
        var tables: [TableSource] = []
        do throws(ExporterError) {
            if !configuration.aggregations.isEmpty {
                let wrapper = try Self.attempt("starting the library") { () throws(EBPFError) in
                    try EBPFWrapper(logger: logger)
                }
                closers.append(wrapper.close)
                let cgroups = CgroupResolver()
                for metric in configuration.aggregations {
                    aggregations.append(
                        try Self.attempt("metric '\(metric.name)' (\(metric.point))") { () throws(EBPFError) in
                            try AggregationSource(metric, in: wrapper, cgroups: cgroups)
                        })
                }
            }
            for program in configuration.programs {
                let wrapper = try Self.attempt("program \(program.origin)") { () throws(EBPFError) in
                    try EBPFWrapper(text: program.text, logger: logger)
                }
                closers.append(wrapper.close)
                for attachment in program.attachments {
                    _ = try Self.attempt("program \(program.origin), function '\(attachment.function)'") {
                        () throws(EBPFError) in try wrapper.attach(function: attachment.function, to: attachment.point)
                    }
                }
                for metric in program.tables {
                    tables.append(
                        TableSource(
                            metric: metric,
                            table: try Self.attempt("metric '\(metric.name)' (table '\(metric.table)')") {
                                () throws(EBPFError) in try wrapper.table(metric.table)
                            }))
                }
            }
        } catch {
            closers.forEach { $0() }
            throw error
        }
        self.closers = closers
        self.aggregations = aggregations
        self.tables = tables
        logger.info(
            "exporting \(aggregations.count + tables.count) metrics",
            metadata: ["aggregations": "\(aggregations.count)", "tables": "\(tables.count)"])
    }

    /// Every metric now, in Prometheus's text format: the swift-metrics registry's, each
    /// aggregation's and table's, how many events each aggregation could not count because
    /// its table was full (`ebpf_exporter_aggregation_dropped_total`), how many programs
    /// the exporter holds (`ebpf_exporter_programs_attached`) and, while the kernel counts,
    /// each one's runs and run time (`ebpf_program_run_count_total`,
    /// `ebpf_program_run_time_seconds`).
    public func metricsText() throws(ExporterError) -> String {
        var text = ExpositionText()
        if let registry { text.append(registry.emitToString()) }
        for source in aggregations {
            try Self.attempt("reading metric '\(source.metric.name)'") { () throws(EBPFError) in
                try source.write(into: &text)
            }
        }
        for source in tables {
            try Self.attempt("reading metric '\(source.metric.name)'") { () throws(EBPFError) in
                try source.write(into: &text)
            }
        }
        if !aggregations.isEmpty {
            let name = "ebpf_exporter_aggregation_dropped_total"
            text.family(name, help: "Events not aggregated because the metric's kernel table was full", type: "counter")
            for source in aggregations {
                let dropped = try Self.attempt("reading metric '\(source.metric.name)'") { () throws(EBPFError) in
                    try source.aggregation.droppedCount()
                }
                text.sample(name, [("metric", source.metric.name)], String(dropped))
            }
        }
        programs.write(into: &text)
        return text.text
    }

    /// Detaches and frees every program, every wrapper's at once (each detaches its own
    /// together): a perf tracepoint's close waits out a kernel grace period, and one
    /// wrapper after another would wait for each. Idempotent.
    public func close() {
        let closers = closers
        DispatchQueue.concurrentPerform(iterations: closers.count) { closers[$0]() }
        programs.recording?.close()
    }

    private static func attempt<T>(_ context: String, _ body: () throws(EBPFError) -> T) throws(ExporterError) -> T {
        do {
            return try body()
        } catch {
            throw ExporterError(context: context, underlying: error)
        }
    }
}

/// Something named in the configuration that the kernel or libbcc refused.
public struct ExporterError: Error, Sendable, CustomStringConvertible {
    /// What was being done: `metric 'x' (syscall:openat)`.
    public var context: String
    public var underlying: EBPFError

    public var description: String { "\(context): \(underlying)" }
}
