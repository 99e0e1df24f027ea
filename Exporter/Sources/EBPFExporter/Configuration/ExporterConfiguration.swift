import EBPF

/// What an exporter serves: aggregations the library generates (no C), and tables of BPF
/// programs of your own, each as Prometheus metrics. Read from YAML by
/// ``init(yaml:file:)``; see `Exporter/examples/` for commented files.
public struct ExporterConfiguration: Sendable {
    /// Where `/metrics` is served (`host:port`) unless the command line says otherwise.
    public var listen: String?
    /// Aggregations in the kernel, one metric each.
    public var aggregations: [AggregationMetric]
    /// Programs of your own, whose tables become metrics.
    public var programs: [NativeProgram]

    public init(listen: String? = nil, aggregations: [AggregationMetric] = [], programs: [NativeProgram] = []) {
        self.listen = listen
        self.aggregations = aggregations
        self.programs = programs
    }
}

/// One aggregation the library generates and its metric: a counter of events (or of a
/// field's sum), or a histogram of a field or of a syscall's latency.
public struct AggregationMetric: Sendable {
    /// What the metric counts.
    public enum Measure: Sendable, Hashable {
        /// Events: a counter.
        case count
        /// The sum of an integer field: a counter.
        case sum(field: String)
        /// A histogram of an integer field: each `le` bound is the largest value of its
        /// bucket (log2: 1, 3, 7, 15, …; linear: `min + step - 1`, …), with a bound below
        /// the buckets (`-1`, or `min - 1`) for the values under them.
        case histogram(field: String, buckets: HistogramBuckets)
        /// A log2 histogram of the latency from the point to its return (a syscall's entry to
        /// its exit, a kprobe to its kretprobe, a uprobe to its uretprobe), in seconds
        /// (Prometheus's base unit).
        case latency
    }

    /// The metric's name, as Prometheus requires: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    public var name: String
    public var help: String
    /// The events (for a latency, the syscall's entry).
    public var point: AttachPoint
    public var measure: Measure
    /// What the events are grouped by: one label named as the key (`comm`, `pid`, a field).
    public var key: AggregationKey?
    /// What turns the key into its label's value, in order (ebpf_exporter's decoders).
    public var decoders: [LabelDecoder]
    public var filter: ProbeFilter
    public var options: AggregationOptions

    public init(
        name: String, help: String, point: AttachPoint, measure: Measure, key: AggregationKey? = nil,
        decoders: [LabelDecoder] = [], filter: ProbeFilter = ProbeFilter(), options: AggregationOptions = .default
    ) {
        self.name = name
        self.help = help
        self.point = point
        self.measure = measure
        self.key = key
        self.decoders = decoders
        self.filter = filter
        self.options = options
    }
}

/// A BPF C program of your own, its attachments, and which of its tables become which
/// metrics.
public struct NativeProgram: Sendable {
    /// The program's C, in bcc's dialect.
    public var text: String
    /// Where the text came from, for messages.
    public var origin: String
    public var attachments: [NativeAttachment]
    public var tables: [TableMetric]

    public init(text: String, origin: String, attachments: [NativeAttachment], tables: [TableMetric]) {
        self.text = text
        self.origin = origin
        self.attachments = attachments
        self.tables = tables
    }
}

/// Where a function of a native program runs.
public struct NativeAttachment: Sendable, Hashable {
    public var point: AttachPoint
    /// The program's function that runs there.
    public var function: String

    public init(point: AttachPoint, function: String) {
        self.point = point
        self.function = function
    }
}

/// A table of a native program as a metric: one sample per key, the key's fields as labels.
public struct TableMetric: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        /// Integer values that only grow (per-CPU values are added up).
        case counter
        /// Integer values that go up and down.
        case gauge
        /// A `BPF_HISTOGRAM` filled with `bpf_log2l` slots: the key is the slot, or a struct
        /// `{ section; slot }` whose section becomes the one label.
        case log2Histogram
    }

    public var table: String
    public var name: String
    public var help: String
    public var kind: Kind
    /// Label names for the key's fields in order (one for a scalar key; for a histogram, the
    /// section's).
    public var labels: [String]

    public init(table: String, name: String, help: String, kind: Kind, labels: [String]) {
        self.table = table
        self.name = name
        self.help = help
        self.kind = kind
        self.labels = labels
    }
}
