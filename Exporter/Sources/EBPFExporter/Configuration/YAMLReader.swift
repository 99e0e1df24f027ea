import Yams

/// Reads values out of a composed YAML tree, each error placed at the node it is about.
struct YAMLReader {
    let file: String

    func error(_ node: Node?, _ message: String) -> ConfigurationError {
        ConfigurationError(file: file, line: node?.mark?.line ?? 0, column: node?.mark?.column ?? 0, message: message)
    }

    /// The YAML tree of `yaml`, nil for an empty text; a syntax error names its line.
    static func compose(_ yaml: String, file: String) throws(ConfigurationError) -> Node? {
        do {
            return try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            throw syntaxError(error, file: file)
        } catch {
            throw ConfigurationError(file: file, line: 0, column: 0, message: "is not YAML: \(error)")
        }
    }

    private static func syntaxError(_ error: YamlError, file: String) -> ConfigurationError {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            let prefix = context.map { "\($0.text) at line \($0.mark.line): " } ?? ""
            return ConfigurationError(
                file: file, line: mark.line, column: mark.column, message: "is not valid YAML: \(prefix)\(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = duplicates.map { "'\($0)'" }.joined(separator: ", ")
            return ConfigurationError(
                file: file, line: context.mark.line, column: context.mark.column,
                message: "the mapping starting here gives \(keys) twice")
        default:
            return ConfigurationError(file: file, line: 0, column: 0, message: "is not valid YAML: \(error)")
        }
    }

    /// `node` as a mapping whose keys are all among `allowed`.
    func mapping(_ node: Node, _ what: String, allowed: [String]) throws(ConfigurationError) -> [String: Node] {
        guard let mapping = node.mapping else { throw error(node, "\(what) must be a mapping of keys to values") }
        var result: [String: Node] = [:]
        for (key, value) in mapping {
            guard let name = key.scalar?.string else { throw error(key, "a key of \(what) must be a plain word") }
            guard allowed.contains(name) else {
                throw error(key, "unknown key '\(name)' in \(what); expected \(Self.list(allowed))")
            }
            result[name] = value
        }
        return result
    }

    func sequence(_ node: Node, _ what: String) throws(ConfigurationError) -> [Node] {
        guard let sequence = node.sequence else {
            throw error(node, "\(what) must be a list (lines starting with '- ')")
        }
        return Array(sequence)
    }

    /// The list under an optional key; empty when the key is absent.
    func sequence(_ node: Node?, _ what: String) throws(ConfigurationError) -> [Node] {
        guard let node else { return [] }
        return try sequence(node, what)
    }

    /// The value under an optional key; nil when the key is absent.
    func string(_ node: Node?, _ what: String) throws(ConfigurationError) -> String? {
        guard let node else { return nil }
        return try string(node, what) as String
    }

    func integer<T: FixedWidthInteger>(_ node: Node?, _ what: String, as type: T.Type) throws(ConfigurationError) -> T?
    {
        guard let node else { return nil }
        return try integer(node, what, as: type) as T
    }

    func string(_ node: Node, _ what: String) throws(ConfigurationError) -> String {
        guard let scalar = node.scalar else {
            throw error(node, "\(what) must be a single value, not a list or mapping")
        }
        return scalar.string
    }

    func integer<T: FixedWidthInteger>(_ node: Node, _ what: String, as: T.Type) throws(ConfigurationError) -> T {
        let text = try string(node, what)
        guard let value = T(text) else { throw error(node, "\(what) must be an integer, not '\(text)'") }
        return value
    }

    /// A Prometheus metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    func metricName(_ node: Node) throws(ConfigurationError) -> String {
        let name = try string(node, "name")
        guard Self.isName(name, allowingColon: true) else {
            throw error(
                node,
                "'\(name)' is not a Prometheus metric name: use letters, digits, '_' and ':', not starting with a digit"
            )
        }
        return name
    }

    /// A Prometheus label name: `[a-zA-Z_][a-zA-Z0-9_]*`, not starting with `__`.
    func labelName(_ node: Node) throws(ConfigurationError) -> String {
        let name = try string(node, "a label")
        guard Self.isName(name, allowingColon: false), !name.hasPrefix("__"), name != "le" else {
            throw error(
                node,
                "'\(name)' is not a label name: use letters, digits and '_', not starting with a digit or '__', and not 'le'"
            )
        }
        return name
    }

    static func isName(_ text: String, allowingColon: Bool) -> Bool {
        guard let first = text.utf8.first, !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else {
            return false
        }
        return text.utf8.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "_")
                || (allowingColon && byte == UInt8(ascii: ":"))
        }
    }

    static func list(_ words: [String]) -> String {
        words.count <= 1 ? words.joined() : words.dropLast().joined(separator: ", ") + " or " + words.last!
    }
}
