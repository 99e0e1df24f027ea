/// A C++ function's name as `c++filt` prints it, without the return type a template's
/// demangling starts with: `ns::Counter::add(long, long) const`, `ns::twice<long>(long)`.
///
/// Functions, methods, constructors, destructors and operators have one, and the copies
/// GCC makes of a function for some of its callers (`[clone .constprop.0]`, `.isra`),
/// named as the function. Thunks, a function's split-off parts (`.cold`, `.part`), lambdas
/// and other local functions do not, nor does anything this reader is not sure of.
struct CxxFunctionName: Sendable, Hashable, CustomStringConvertible {
    /// The scopes and the function's own name, as printed (`["ns", "Counter", "add"]`,
    /// `["ns", "twice<long>"]`, `["(anonymous namespace)", "helper"]`).
    let components: [String]
    /// The parameter list and what follows it: `(long, long) const`.
    let parameters: String

    /// The name `demangled` (a C++ symbol's demangling) gives, or nil when it is not a
    /// function's.
    init?(demangled: String) {
        guard !Self.thunkPhrases.contains(where: demangled.hasPrefix),
            let text = Self.withoutClone(Substring(demangled)), let parts = CxxNameReader.split(text),
            let parameters = parts.parameters, !parts.components.isEmpty,
            parts.components.allSatisfy(Self.isPlainComponent)
        else { return nil }
        components = parts.components
        self.parameters = String(parameters)
    }

    /// `ns::Counter::add(long, long) const`.
    var description: String { qualifiedName + parameters }

    /// The name without its parameters: `ns::Counter::add`.
    var qualifiedName: String { components.joined(separator: "::") }

    /// Whether `query` names this function: its components end this name's (whole
    /// components; one without template arguments matches any instantiation, and ABI tags
    /// need not be written), and its parameter list, if it has one, is this one's; spaces
    /// aside.
    func matches(_ query: CxxFunctionQuery) -> Bool {
        guard query.components.count <= components.count else { return false }
        for (wanted, component) in zip(query.components, components.suffix(query.components.count)) {
            let comparable = Self.bare(wanted) == wanted ? Self.bare(component) : Self.withoutABITags(component)
            guard Self.spaceless(comparable) == Self.spaceless(Self.withoutABITags(wanted)) else { return false }
        }
        guard let wanted = query.parameters else { return true }
        return Self.spaceless(wanted) == Self.spaceless(parameters)
    }

    private static func spaceless(_ text: String) -> String { text.filter { $0 != " " } }

    /// `text` without its ABI tags (`[abi:cxx11]`).
    private static func withoutABITags(_ text: String) -> String {
        guard text.contains("[abi:") else { return text }
        return text.replacing(#/\[abi:[^\]]*\]/#, with: "")
    }

    /// Phrases that start the demangling of a function that is not one people name.
    private static let thunkPhrases = [
        "non-virtual thunk to ", "virtual thunk to ", "covariant return thunk to ", "transaction clone for ",
        "TLS init function for ", "TLS wrapper function for ",
    ]

    /// `text` without GCC's clone suffixes (` [clone .constprop.0]`); nil for a part split
    /// off a function (`.cold`, `.part.N`), which calls do not enter.
    private static func withoutClone(_ text: Substring) -> Substring? {
        var text = text
        while text.hasSuffix("]"), let open = text.ranges(of: " [clone .").last {
            let kind = text[open.upperBound...].prefix { $0 != "." && $0 != "]" }
            if kind == "cold" || kind == "part" { return nil }
            text = text[..<open.lowerBound]
        }
        return text
    }

    /// A component that is a name: not empty, and no parameter list or lambda of a local
    /// scope (`f()::{lambda(int)#1}`, `operator()(int)::Local`); an operator's own brackets
    /// (`operator()`) are its name.
    private static func isPlainComponent(_ component: String) -> Bool {
        if component == "(anonymous namespace)" { return true }
        let name = bare(component)
        guard isOperator(component) else {
            return !component.isEmpty && !name.contains(where: { "(){}".contains($0) })
        }
        if name.hasPrefix("operator ") {
            // A conversion's type may hold brackets (`operator void (C::*)()`), but no scope
            // after them (`operator bool() const::Local::f`).
            return !(name.firstIndex(of: ")").map { name[$0...].contains("::") } ?? false)
        }
        // After `operator()`, template arguments only.
        return !component.dropFirst(name.count).contains(where: { "(){}".contains($0) })
    }

    /// A component without template arguments and ABI tags: `basic_string` of
    /// `basic_string<char>`, `to_string` of `to_string[abi:cxx11]`, `operator<<` of
    /// `operator<< <char>`.
    static func bare(_ component: String) -> String {
        if isOperator(component) {
            let characters = Array(component.utf8)
            let end = CxxNameReader.operatorEnd(
                characters, from: 0, end: characters.count, withTemplateArguments: false)
            return String(decoding: characters[..<end], as: UTF8.self)
        }
        return String(component.prefix { $0 != "<" && $0 != "[" })
    }

    /// Whether a component is an operator (`operator<`, `operator new`), not a name that
    /// starts with the word (`operators`).
    static func isOperator(_ component: some StringProtocol) -> Bool {
        guard component.hasPrefix("operator"), let next = component.dropFirst("operator".count).first else {
            return false
        }
        return !(next.isLetter || next.isNumber || next == "_")
    }
}

/// A C++ function's name as a person writes it to choose functions: `Counter::add`,
/// `ns::Counter::add(long, long) const`, `ns::twice<long>`, `add`.
struct CxxFunctionQuery: Sendable, Hashable {
    /// The components given, as many as given.
    let components: [String]
    /// The parameter list and its qualifiers, when given.
    let parameters: String?

    /// The query `text` writes, or nil when it cannot name a C++ function.
    init?(_ text: String) {
        guard let parts = CxxNameReader.split(Substring(text)), !parts.components.isEmpty,
            parts.components.allSatisfy({ !$0.isEmpty })
        else { return nil }
        components = parts.components
        parameters = parts.parameters.map(String.init)
    }
}

/// Splits a C++ function's demangled name at its top-level `::` and its parameter list,
/// dropping a return type before it.
enum CxxNameReader {
    /// The components and the parameter list (with what follows it) of `text`, or nil
    /// when its brackets do not pair.
    static func split(_ text: Substring) -> (components: [String], parameters: Substring?)? {
        let characters = Array(text.utf8)
        var end = characters.count
        var parameters: Substring?
        // `C::operator()` without parameters: its `()` is its name.
        if let open = parameterListStart(characters), !endsInOperatorWord(characters[..<open]) {
            end = open
            parameters = text[text.utf8.index(text.startIndex, offsetBy: open)...]
        }
        var components: [String] = []
        var start = 0
        var index = 0
        var depth = 0
        func component(_ range: Range<Int>) -> String {
            String(decoding: characters[range], as: UTF8.self)
        }
        while index < end {
            let byte = characters[index]
            if depth == 0, index == start,
                CxxFunctionName.isOperator(component(index..<min(end, index + "operator".utf8.count + 1)))
            {
                // An operator's symbols are its name, not brackets; a conversion operator's
                // type (`operator char const*`) runs to the parameter list.
                index = operatorEnd(characters, from: index, end: end)
                continue
            }
            switch byte {
            case UInt8(ascii: "<"), UInt8(ascii: "("), UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
            case UInt8(ascii: ">"), UInt8(ascii: ")"), UInt8(ascii: "]"), UInt8(ascii: "}"):
                depth -= 1
                guard depth >= 0 else { return nil }
            case UInt8(ascii: ":") where depth == 0 && index + 1 < end && characters[index + 1] == UInt8(ascii: ":"):
                components.append(component(start..<index))
                index += 2
                start = index
                continue
            case UInt8(ascii: " ") where depth == 0:
                // What came before is a return type (`long ns::twice<long>(long)`).
                components = []
                start = index + 1
            default:
                break
            }
            index += 1
        }
        guard depth == 0 else { return nil }
        components.append(component(start..<end))
        return (components, parameters)
    }

    /// Whether `text` ends with the component `operator`.
    private static func endsInOperatorWord(_ text: ArraySlice<UInt8>) -> Bool {
        let word = "operator".utf8
        guard text.count >= word.count, text.suffix(word.count).elementsEqual(word) else { return false }
        let before = text.dropLast(word.count).last
        return before == nil || before == UInt8(ascii: ":") || before == UInt8(ascii: " ")
    }

    /// Where the parameter list opens: the `(` pairing the last `)`, when only qualifiers
    /// (`const`, `volatile`, `&`, `&&`) follow it; nil when the text has none.
    private static func parameterListStart(_ characters: [UInt8]) -> Int? {
        guard let close = characters.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        let qualifiers = String(decoding: characters[(close + 1)...], as: UTF8.self)
        guard qualifiers.split(separator: " ").allSatisfy({ ["const", "volatile", "&", "&&"].contains($0) }) else {
            return nil
        }
        var depth = 0
        var index = close
        while index >= 0 {
            if characters[index] == UInt8(ascii: ")") { depth += 1 }
            if characters[index] == UInt8(ascii: "(") {
                depth -= 1
                if depth == 0 { return index }
            }
            index -= 1
        }
        return nil
    }

    /// C++'s operators spelled with symbols, longest first, so that `operator>><int>` is
    /// `>>` with template arguments.
    private static let symbolicOperators = [
        "<=>", "->*", "<<=", ">>=", "()", "[]", "->", "<<", ">>", "<=", ">=", "==", "!=", "&&", "||", "++", "--",
        "+=", "-=", "*=", "/=", "%=", "^=", "&=", "|=", "+", "-", "*", "/", "%", "^", "&", "|", "~", "!", "=", "<",
        ">", ",",
    ].map { Array($0.utf8) }

    /// Where an operator's name that starts at `index` ends: after its symbols (and a
    /// template argument list after them, `withTemplateArguments`), or at `end` for a named
    /// one (`operator new`, `operator bool`, `operator"" _km`).
    static func operatorEnd(_ characters: [UInt8], from index: Int, end: Int, withTemplateArguments: Bool = true)
        -> Int
    {
        var position = index + "operator".utf8.count
        // A named operator (`operator new`, `operator bool`), or a literal operator
        // (`operator"" _km`).
        if characters[position] == UInt8(ascii: " ") || characters[position] == UInt8(ascii: "\"") { return end }
        if let symbol = symbolicOperators.first(where: { characters[position..<end].starts(with: $0) }) {
            position += symbol.count
        }
        guard withTemplateArguments else { return position }
        // Template arguments: `operator>><int>`, and `operator<< <int>`, where the demangler
        // separates them with a space.
        if position + 1 < end, characters[position] == UInt8(ascii: " "), characters[position + 1] == UInt8(ascii: "<")
        {
            position += 1
        }
        if position < end, characters[position] == UInt8(ascii: "<") {
            var depth = 0
            while position < end {
                if characters[position] == UInt8(ascii: "<") { depth += 1 }
                if characters[position] == UInt8(ascii: ">") { depth -= 1 }
                position += 1
                if depth == 0 { break }
            }
        }
        return position
    }
}
