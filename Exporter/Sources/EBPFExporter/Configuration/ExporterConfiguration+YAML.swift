import EBPF
import Foundation
import Yams

extension ExporterConfiguration {
    /// Reads the configuration file at `path`; a program's `source` is read relative to it.
    ///
    /// - Throws: ``ConfigurationError`` naming the line of what is wrong.
    public init(contentsOf path: String) throws(ConfigurationError) {
        try self.init(yaml: try Self.configurationText(path), file: path)
    }

    /// The text of the configuration file at `path`, or an error saying why it cannot be read.
    static func configurationText(_ path: String) throws(ConfigurationError) -> String {
        do {
            return try readText(path)
        } catch {
            throw ConfigurationError(file: path, line: 0, column: 0, message: "cannot be read: \(error.reason)")
        }
    }

    /// Reads a configuration from YAML text; `file` names it in errors, and a program's
    /// `source` is read relative to its directory.
    ///
    /// ```yaml
    /// metrics:
    ///   - name: ebpf_openat_total
    ///     help: openat calls by process name
    ///     count: syscall:openat
    ///     by: comm
    /// ```
    ///
    /// - Throws: ``ConfigurationError`` naming the line and column of what is wrong.
    public init(yaml: String, file: String = "configuration") throws(ConfigurationError) {
        let reader = YAMLReader(file: file)
        let root = try YAMLReader.compose(yaml, file: file)
        guard let root else {
            throw ConfigurationError(
                file: file, line: 0, column: 0, message: "is empty; it needs 'metrics' or 'programs'")
        }
        let top = try reader.mapping(root, "the configuration", allowed: ["listen", "metrics", "programs"])
        listen = try reader.string(top["listen"], "listen")
        var names = Set<String>()
        func claim(_ name: String, at node: Node?) throws(ConfigurationError) {
            guard names.insert(name).inserted else { throw reader.error(node, "metric '\(name)' is defined twice") }
        }
        aggregations = []
        for node in try reader.sequence(top["metrics"], "metrics") {
            let metric = try AggregationMetric(node, reader)
            try claim(metric.name, at: node.mapping?["name"])
            aggregations.append(metric)
        }
        programs = []
        for node in try reader.sequence(top["programs"], "programs") {
            let program = try NativeProgram(node, reader)
            for (table, tableNode) in zip(program.tables, try reader.sequence(node.mapping?["tables"], "tables")) {
                try claim(table.name, at: tableNode.mapping?["name"])
            }
            programs.append(program)
        }
        guard !aggregations.isEmpty || !programs.isEmpty else {
            throw reader.error(root, "names no metric: add 'metrics' (aggregations) or 'programs' (your own C)")
        }
    }

    /// Why a file cannot be read, in words.
    struct UnreadableFile: Error {
        var reason: String
    }

    /// The UTF-8 text of the file at `path`.
    static func readText(_ path: String) throws(UnreadableFile) -> String {
        guard FileManager.default.fileExists(atPath: path) else { throw UnreadableFile(reason: "no such file") }
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw UnreadableFile(reason: "permission denied")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw UnreadableFile(reason: "it is not a file that can be read (a directory?)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw UnreadableFile(reason: "it is not UTF-8 text")
        }
        return text
    }
}

extension AggregationMetric {
    static let measures = ["count", "sum", "histogram", "latency"]

    init(_ node: Node, _ reader: YAMLReader) throws(ConfigurationError) {
        let fields = try reader.mapping(
            node, "a metric",
            allowed: ["name", "help"] + Self.measures + [
                "field", "linear", "by", "decoders", "filter", "max_keys", "string_size",
            ])
        guard let nameNode = fields["name"] else { throw reader.error(node, "a metric needs a 'name'") }
        name = try reader.metricName(nameNode)
        let given = Self.measures.filter { fields[$0] != nil }
        guard given.count == 1, let kind = given.first, let eventNode = fields[kind] else {
            throw reader.error(
                node, "metric '\(name)' needs exactly one of \(YAMLReader.list(Self.measures)), naming its event")
        }
        let event = try reader.string(eventNode, kind)
        let field = try reader.string(fields["field"], "field")
        if let linear = fields["linear"], kind != "histogram" {
            throw reader.error(linear, "'linear' sets a histogram's buckets; metric '\(name)' is a \(kind)")
        }
        // A latency's syscall may be named alone: `latency: read`.
        point = try reader.point(kind == "latency" && !event.contains(":") ? "syscall:" + event : event, at: eventNode)
        switch kind {
        case "latency":
            guard point.returnPoint != nil else {
                throw reader.error(
                    eventNode,
                    "a latency runs from an entry to its return (latency: read, kprobe:vfs_read, uprobe:/srv/app:Server.handle); '\(event)' has none"
                )
            }
            measure = .latency
            if let field {
                throw reader.error(
                    fields["field"], "a latency has no field (it measures time), so 'field: \(field)' cannot apply")
            }
        default:
            if kind == "count" {
                measure = .count
                if let field {
                    throw reader.error(fields["field"], "a count has no field; use 'sum' or 'histogram' for '\(field)'")
                }
            } else {
                guard let field else {
                    throw reader.error(node, "metric '\(name)' (\(kind)) needs 'field': the integer field it measures")
                }
                if kind == "sum" {
                    measure = .sum(field: field)
                } else {
                    let buckets = try fields["linear"].map { (node) throws(ConfigurationError) in
                        try Self.linear(node, reader)
                    }
                    measure = .histogram(field: field, buckets: buckets ?? .log2)
                }
            }
        }
        help =
            try reader.string(fields["help"], "help")
            ?? "\(kind) of \(event)"
        key = try fields["by"].map { (node) throws(ConfigurationError) in
            let by = try reader.labelName(node)
            switch by {
            case "comm": return .processName
            case "pid": return .processID
            case "tid": return .threadID
            case "uid": return .userID
            case "cpu": return .cpu
            case "cgroup": return .cgroup
            case "kstack": return .kernelStack
            case "ustack":
                // A user stack is named from its process's files while it runs: once it exits
                // its frames read `[unknown]`, and its series would move to another label.
                throw reader.error(
                    node,
                    "'by: ustack' cannot label a metric: a user stack's names go when its process exits, so its series would not last; use 'kstack', or ebpf-trace --count-by ustack"
                )
            default: return .field(by)
            }
        }
        decoders = []
        for item in try reader.sequence(fields["decoders"], "decoders") {
            decoders.append(try LabelDecoder(item, reader))
        }
        if let first = fields["decoders"], !decoders.isEmpty, key == nil {
            throw reader.error(first, "'decoders' decode the label 'by' names; metric '\(name)' has no 'by'")
        }
        filter =
            try fields["filter"].map { (node) throws(ConfigurationError) in try Self.filter(node, reader) }
            ?? ProbeFilter()
        var options = AggregationOptions.default
        options.maxKeys = try reader.integer(fields["max_keys"], "max_keys", as: Int.self) ?? options.maxKeys
        if let node = fields["string_size"] {
            options.stringSize = try reader.integer(node, "string_size", as: Int.self)
        }
        self.options = options
    }
}

extension YAMLReader {
    /// An attach point in the library's text form (`syscall:openat`,
    /// `tracepoint:sched:sched_switch`, `kprobe:tcp_connect`, `uprobe:/usr/bin/bash:readline`).
    func point(_ text: String, at node: Node) throws(ConfigurationError) -> AttachPoint {
        do {
            return try AttachPoint(parsing: text)
        } catch {
            throw self.error(node, error.message)
        }
    }
}

extension AggregationMetric {
    /// `{ min: 0, max: 1000, step: 100 }`: linear buckets.
    static func linear(_ node: Node, _ reader: YAMLReader) throws(ConfigurationError) -> HistogramBuckets {
        let fields = try reader.mapping(node, "linear buckets", allowed: ["min", "max", "step"])
        guard let min = fields["min"], let max = fields["max"], let step = fields["step"] else {
            throw reader.error(node, "linear buckets need min, max and step")
        }
        let buckets = HistogramBuckets.linear(
            min: try reader.integer(min, "min", as: Int64.self), max: try reader.integer(max, "max", as: Int64.self),
            step: try reader.integer(step, "step", as: Int64.self))
        do {
            try buckets.validate()
        } catch {
            throw reader.error(node, error.message)
        }
        return buckets
    }

    static func filter(_ node: Node, _ reader: YAMLReader) throws(ConfigurationError) -> ProbeFilter {
        let fields = try reader.mapping(
            node, "a filter", allowed: ["comm", "pid", "tid", "uid", "cgroup", "cgroup_descendants"])
        var filter = ProbeFilter()
        filter.cgroup = try reader.string(fields["cgroup"], "cgroup")
        if let descendants = fields["cgroup_descendants"] {
            guard let flag = descendants.bool else {
                throw reader.error(descendants, "cgroup_descendants is true or false")
            }
            filter.cgroupDescendants = flag
        }
        filter.processName = try reader.string(fields["comm"], "comm")
        filter.processID = try reader.integer(fields["pid"], "pid", as: Int32.self)
        filter.threadID = try reader.integer(fields["tid"], "tid", as: Int32.self)
        filter.userID = try reader.integer(fields["uid"], "uid", as: UInt32.self)
        return filter
    }
}

extension NativeProgram {
    /// `at: POINT`, or the point's kind as the key (`kprobe: tcp_connect`).
    static let points = ["at", "tracepoint", "raw_tracepoint", "kprobe", "kretprobe", "uprobe"]

    init(_ node: Node, _ reader: YAMLReader) throws(ConfigurationError) {
        let fields = try reader.mapping(node, "a program", allowed: ["source", "text", "attach", "tables"])
        switch (fields["source"], fields["text"]) {
        case (let source?, nil):
            let path = try reader.string(source, "source")
            let directory = (reader.file as NSString).deletingLastPathComponent
            let resolved = path.hasPrefix("/") || directory.isEmpty ? path : directory + "/" + path
            do {
                text = try ExporterConfiguration.readText(resolved)
            } catch {
                throw reader.error(source, "cannot read the program's source '\(resolved)': \(error.reason)")
            }
            origin = resolved
        case (nil, let inline?):
            text = try reader.string(inline, "text")
            origin = "\(reader.file):\(inline.mark?.line ?? 0)"
        default:
            throw reader.error(node, "a program needs exactly one of 'source' (a file of C) or 'text' (the C itself)")
        }
        guard let attachNode = fields["attach"] else {
            throw reader.error(node, "a program needs 'attach': where its functions run")
        }
        attachments = []
        for item in try reader.sequence(attachNode, "attach") {
            let entry = try reader.mapping(item, "an attachment", allowed: Self.points + ["function"])
            let given = Self.points.filter { entry[$0] != nil }
            guard given.count == 1, let kind = given.first, let pointNode = entry[kind],
                let functionNode = entry["function"]
            else {
                throw reader.error(
                    item, "an attachment needs 'function' and exactly one of \(YAMLReader.list(Self.points))")
            }
            let text = try reader.string(pointNode, kind)
            let point = try reader.point(kind == "at" ? text : kind + ":" + text, at: pointNode)
            attachments.append(NativeAttachment(point: point, function: try reader.string(functionNode, "function")))
        }
        guard let tablesNode = fields["tables"] else {
            throw reader.error(node, "a program needs 'tables': which tables become metrics")
        }
        tables = []
        for item in try reader.sequence(tablesNode, "tables") {
            tables.append(try TableMetric(item, reader))
        }
    }
}

extension TableMetric {
    static let kinds = ["counter", "gauge", "histogram"]

    init(_ node: Node, _ reader: YAMLReader) throws(ConfigurationError) {
        let fields = try reader.mapping(node, "a table metric", allowed: ["table", "name", "help", "type", "labels"])
        guard let tableNode = fields["table"], let nameNode = fields["name"] else {
            throw reader.error(node, "a table metric needs 'table' (the map's name in the C) and 'name' (the metric's)")
        }
        table = try reader.string(tableNode, "table")
        name = try reader.metricName(nameNode)
        help =
            try reader.string(fields["help"], "help")
            ?? "table \(table)"
        let type =
            try reader.string(fields["type"], "type") ?? "counter"
        switch type {
        case "counter": kind = .counter
        case "gauge": kind = .gauge
        case "histogram": kind = .log2Histogram
        default:
            throw reader.error(fields["type"], "unknown type '\(type)'; expected \(YAMLReader.list(Self.kinds))")
        }
        labels = []
        for item in try reader.sequence(fields["labels"], "labels") {
            labels.append(try reader.labelName(item))
        }
    }
}

extension LabelDecoder {
    /// `errno`, `{ name: errno }`, `{ name: static_map, static_map: { 1: one } }` or
    /// `{ name: regexp, regexps: [...] }`, as ebpf_exporter writes them.
    init(_ node: Node, _ reader: YAMLReader) throws(ConfigurationError) {
        let name: String
        var fields: [String: Node] = [:]
        if node.scalar != nil {
            name = try reader.string(node, "a decoder")
        } else {
            fields = try reader.mapping(node, "a decoder", allowed: ["name", "static_map", "regexps"])
            guard let nameNode = fields["name"] else { throw reader.error(node, "a decoder needs a 'name'") }
            name = try reader.string(nameNode, "name")
        }
        switch name {
        case "ksym": self = .ksym
        case "syscall": self = .syscall
        case "errno": self = .errno
        case "cgroup": self = .cgroup(unit: false)
        case "cgroup_unit": self = .cgroup(unit: true)
        case "inet_ip": self = .inetIP
        case "static_map":
            guard let mapNode = fields["static_map"], let pairs = mapNode.mapping else {
                throw reader.error(node, "a static_map decoder needs 'static_map': a mapping of values to labels")
            }
            var map: [String: String] = [:]
            for (key, value): (Node, Node) in pairs {
                let label: String = try reader.string(value, "a static_map value")
                map[try reader.string(key, "a static_map key") as String] = label
            }
            self = .staticMap(map)
        case "regexp":
            let patterns = try reader.sequence(fields["regexps"], "regexps").map {
                (item) throws(ConfigurationError) -> String in
                let pattern = try reader.string(item, "a regexp")
                do {
                    _ = try Regex(pattern)
                } catch {
                    throw reader.error(item, "'\(pattern)' is not a regular expression: \(error)")
                }
                return pattern
            }
            guard !patterns.isEmpty else {
                throw reader.error(node, "a regexp decoder needs 'regexps': the patterns whose values are kept")
            }
            self = .regexp(patterns)
        default:
            throw reader.error(node, "unknown decoder '\(name)'; expected \(YAMLReader.list(Self.names))")
        }
    }
}
