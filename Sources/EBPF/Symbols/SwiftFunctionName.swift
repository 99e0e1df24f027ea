/// A Swift function's name as people write it (`MyModule.Server.handle(request:)`), read
/// from the Swift runtime's full demangling of its symbol
/// (`MyModule.Server.handle(request: Swift.Int) -> Swift.Int`).
///
/// Only plain functions, methods, initializers, deinitializers and accessors have one, and
/// the copies an optimized build specializes of them (`generic specialization <Swift.Int>
/// of …`, `function signature specialization <Arg[1] = Dead> of …`), which calls reach
/// instead of the function: closures, thunks, local functions, async and coroutine parts,
/// operators, metadata and the like do not, nor does anything this reader is not sure of.
struct SwiftFunctionName: Sendable, Hashable, CustomStringConvertible {
    /// The module: the one of the type an extension extends, for a method of an extension.
    let module: String
    /// The enclosing types and the function's base name (`["Server", "handle"]`); for an
    /// accessor the property or `subscript`, then the accessor as the demangler spells it
    /// (`["Server", "count", "getter"]`, `didset`). A class's allocating and deallocating
    /// entry points keep the runtime's names (`__allocating_init`, `__deallocating_deinit`):
    /// they call `init` and `deinit`, so naming those alone counts each construction once.
    let path: [String]
    /// The argument labels, `_` for none (`["request"]`, `["_", "b"]`); nil for an accessor.
    let labels: [String]?
    /// Whether it is a `static` (or `class`) member.
    let isStatic: Bool

    init(module: String, path: [String], labels: [String]?, isStatic: Bool) {
        self.module = module
        self.path = path
        self.labels = labels
        self.isStatic = isStatic
    }

    /// The name `demangled` (the Swift runtime's full demangling of a symbol) gives, or nil
    /// when it is not a plain function, method, initializer, deinitializer or accessor.
    init?(demangled: String) {
        guard let function = Self.unspecialized(demangled), let name = DemangledReader.read(String(function)) else {
            return nil
        }
        self = name
    }

    /// The function a specialization was made of (`F` of `generic specialization
    /// <Swift.Int> of F`, of `function signature specialization <Arg[1] = Dead> of F`, of
    /// both in turn), `demangled` itself when it is none; nil when its brackets do not close.
    static func unspecialized(_ demangled: String) -> Substring? {
        var rest = Substring(demangled)
        while let kind = [
            "generic specialization <", "function signature specialization <",
            "generic not re-abstracted specialization <", "generic pre-specialization <",
            "inlined generic function <",
        ].first(where: { rest.hasPrefix($0) }) {
            rest = rest.dropFirst(kind.count)
            var depth = 1
            var previous: Character = "<"
            while depth > 0, let character = rest.first {
                if character == "<" { depth += 1 }
                if character == ">", previous != "-" { depth -= 1 }
                previous = character
                rest = rest.dropFirst()
            }
            guard depth == 0, rest.hasPrefix(" of ") else { return nil }
            rest = rest.dropFirst(" of ".count)
        }
        return rest
    }

    /// `MyModule.Server.handle(request:)`, `static MyModule.Server.make()`,
    /// `MyModule.Server.count.getter`.
    var description: String {
        (isStatic ? "static " : "") + qualifiedName
    }

    /// The name without `static `: `MyModule.Server.handle(request:)`.
    var qualifiedName: String { module + "." + nameWithoutModule }

    /// The name without module or `static `: `Server.handle(request:)`.
    var nameWithoutModule: String {
        path.joined(separator: ".") + (labels.map { "(" + $0.map { $0 + ":" }.joined() + ")" } ?? "")
    }

    /// Whether `query` names this function: its components end the module and path (whole
    /// components), its labels, if it has a parameter list, are these, and it is static if
    /// it says `static`.
    func matches(_ query: SwiftFunctionQuery) -> Bool {
        if query.isStatic && !isStatic { return false }
        if let wanted = query.labels, wanted != labels { return false }
        let components = [module] + path
        return query.components.count <= components.count
            && components.suffix(query.components.count) == query.components[...]
    }
}

/// A Swift function's name as a person writes it to choose functions: `handle`,
/// `Server.handle(request:)`, `MyModule.Server.handle`, `static Server.make()`,
/// `Server.count.getter`.
struct SwiftFunctionQuery: Sendable, Hashable {
    /// The dotted components: module, types, base name, accessor, as many as given.
    let components: [String]
    /// The argument labels when a parameter list is given (`_` for none).
    let labels: [String]?
    /// Whether the query starts with `static `.
    let isStatic: Bool

    /// The query `text` writes, or nil when it cannot be a Swift name (it is then matched as
    /// a symbol only).
    init?(_ text: String) {
        var rest = Substring(text)
        isStatic = rest.hasPrefix("static ")
        if isStatic { rest = rest.dropFirst("static ".count) }
        if let open = rest.firstIndex(of: "(") {
            let list = rest[rest.index(after: open)...]
            guard list.last == ")" else { return nil }
            let inner = list.dropLast()
            guard inner.isEmpty || inner.last == ":" else { return nil }
            let labels = inner.split(separator: ":", omittingEmptySubsequences: false).dropLast().map(String.init)
            guard labels.allSatisfy({ $0 == "_" || Self.isIdentifier($0) }) else { return nil }
            self.labels = labels
            rest = rest[..<open]
        } else {
            labels = nil
        }
        let components = rest.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard components.allSatisfy(Self.isIdentifier) else { return nil }
        self.components = components
    }

    /// A Swift identifier as the demangler prints one: letters, digits (not first), `_`, `$`
    /// and any non-ASCII character.
    private static func isIdentifier(_ text: some StringProtocol) -> Bool {
        guard let first = text.utf8.first, !isDigit(first) else { return false }
        return text.utf8.allSatisfy(DemangledReader.isIdentifierByte)
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }
}

/// Reads a full demangling, byte by byte, as far as it is a plain function's name:
///
/// ```text
/// name       := ["static "] ["(extension in " identifier "):"] component ("." component)* ending
/// component  := (identifier | "(" identifier " in _" hex digits ")") ["<" … ">"]
/// ending     := "(" parameters ")" [" async"] [" throws" ["(" … ")"] | " rethrows"] [" -> " type]
///             | " : " type        (after an accessor: getter, setter, modify, …)
///             | ""                (after deinit)
/// ```
///
/// A type may be anything but a phrase of the demangler's (`with unmangled suffix`, `in`, `of`,
/// `for`, `#`): those mark a part of a function, not the function.
///
/// It reads through a pointer and allocates little: selection reads every Swift symbol of a
/// binary, tens of thousands, in the library's debug builds too.
private struct DemangledReader {
    /// The demangling's UTF-8 bytes, valid while ``read(_:)`` runs.
    private let bytes: UnsafeBufferPointer<UInt8>
    private var index = 0

    private init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    /// The name `demangled` gives, if any.
    static func read(_ demangled: String) -> SwiftFunctionName? {
        var demangled = demangled
        return demangled.withUTF8 { bytes in
            var reader = DemangledReader(bytes)
            return reader.functionName()
        }
    }

    /// Words of the demangler's that no type holds outside brackets: they join a function
    /// to what is made of it (`… with unmangled suffix ".resume.0"`, `… in conformance …`).
    static let phrases: Set<String> = ["in", "of", "for", "with", "at", "to", "from"]

    static let accessors: Set<String> = [
        "getter", "setter", "modify", "read", "didset", "willset", "unsafeAddressor", "unsafeMutableAddressor",
    ]

    /// A byte of an identifier: an ASCII letter, digit, `_` or `$`, or part of a non-ASCII
    /// character.
    static func isIdentifierByte(_ byte: UInt8) -> Bool {
        // (Comparisons, not ranges of `UInt8(ascii:)`: called for every byte of every name.)
        let lowercased = byte | 0x20
        return (lowercased >= 0x61 && lowercased <= 0x7A)  // a-z, A-Z
            || (byte >= 0x30 && byte <= 0x39)  // 0-9
            || byte == 0x5F || byte == 0x24 || byte >= 0x80  // _ $ non-ASCII
    }

    private mutating func functionName() -> SwiftFunctionName? {
        let isStatic = skip("static ")
        if skip("(extension in ") {
            guard identifier() != nil, skip("):") else { return nil }
        }
        guard let module = identifier() else { return nil }
        var path: [String] = []
        while skip(".") {
            guard let component = component() else { return nil }
            path.append(component)
        }
        guard let last = path.last else { return nil }
        if index == bytes.count {
            // Only a deinitializer has neither parameters nor type.
            guard last == "deinit" || last == "__deallocating_deinit", path.count >= 2 else { return nil }
            return SwiftFunctionName(module: module, path: path, labels: nil, isStatic: isStatic)
        }
        if skip(" : ") {
            guard Self.accessors.contains(last), path.count >= 2, isType(from: index) else { return nil }
            return SwiftFunctionName(module: module, path: path, labels: nil, isStatic: isStatic)
        }
        guard last != "deinit", last != "__deallocating_deinit", let labels = parameterLabels(), functionEnding() else {
            return nil
        }
        return SwiftFunctionName(module: module, path: path, labels: labels, isStatic: isStatic)
    }

    /// An identifier or a private one (`(Server in _0A1B…)`), with any generic clause dropped.
    private mutating func component() -> String? {
        let name: String
        if skip("(") {
            guard let identifier = identifier(), skip(" in _") else { return nil }
            let digits = index
            while index < bytes.count, isHexDigit(bytes[index]) { index += 1 }
            guard index > digits, skip(")") else { return nil }
            name = identifier
        } else {
            guard let identifier = identifier() else { return nil }
            name = identifier
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "<") {
            guard let end = closing(from: index) else { return nil }
            index = end + 1
        }
        return name
    }

    private mutating func identifier() -> String? {
        let start = index
        while index < bytes.count, Self.isIdentifierByte(bytes[index]) { index += 1 }
        guard index > start, !(bytes[start] >= UInt8(ascii: "0") && bytes[start] <= UInt8(ascii: "9")) else {
            return nil
        }
        return text(start..<index)
    }

    /// The labels of the parameter list at `index`: a parameter printed `label: Type` has
    /// that label, one printed as a bare type none (`_`).
    private mutating func parameterLabels() -> [String]? {
        guard index < bytes.count, bytes[index] == UInt8(ascii: "("), let end = closing(from: index) else {
            return nil
        }
        let list = (index + 1)..<end
        index = end + 1
        guard !list.isEmpty else { return [] }
        var labels: [String] = []
        var brackets = Brackets()
        var start = list.lowerBound
        var position = list.lowerBound
        while position <= list.upperBound {
            if position == list.upperBound || (brackets.isEmpty && bytes[position] == UInt8(ascii: ",")) {
                labels.append(label(of: start..<position))
                start = position + 1
            } else if !brackets.step(bytes, at: position) {
                return nil
            }
            position += 1
        }
        return labels
    }

    /// The label of the parameter printed at `range`: `request` for `request: Swift.Int`,
    /// `_` for a bare type.
    private func label(of range: Range<Int>) -> String {
        var start = range.lowerBound
        while start < range.upperBound, bytes[start] == UInt8(ascii: " ") { start += 1 }
        var end = start
        while end < range.upperBound, Self.isIdentifierByte(bytes[end]) { end += 1 }
        let isLabel =
            end > start && end + 1 < range.upperBound && bytes[end] == UInt8(ascii: ":")
            && bytes[end + 1] == UInt8(ascii: " ")
        return isLabel ? text(start..<end) : "_"
    }

    /// What may follow a function's parameter list: effects, then the result type.
    private mutating func functionEnding() -> Bool {
        _ = skip(" async")
        if skip(" throws") {
            if index < bytes.count, bytes[index] == UInt8(ascii: "(") {
                guard let end = closing(from: index) else { return false }
                index = end + 1
            }
        } else {
            _ = skip(" rethrows")
        }
        if index == bytes.count { return true }
        return skip(" -> ") && isType(from: index)
    }

    /// Whether the rest of the text from `start` may be a type: not empty, brackets paired,
    /// no `"` or `#`, and none of the demangler's phrases as a word outside brackets.
    private func isType(from start: Int) -> Bool {
        guard start < bytes.count else { return false }
        var brackets = Brackets()
        var word = start
        for position in start...bytes.count {
            if position == bytes.count || (brackets.isEmpty && bytes[position] == UInt8(ascii: " ")) {
                // A word between spaces: not empty, and not a phrase.
                guard position > word, !Self.phrases.contains(text(word..<position)) else { return false }
                word = position + 1
                continue
            }
            let byte = bytes[position]
            guard byte != UInt8(ascii: "\""), byte != UInt8(ascii: "#"), brackets.step(bytes, at: position) else {
                return false
            }
        }
        return brackets.isEmpty
    }

    /// The index of the bracket closing the one at `start`; nil when there is none.
    private func closing(from start: Int) -> Int? {
        var brackets = Brackets()
        var position = start
        while position < bytes.count {
            guard brackets.step(bytes, at: position) else { return nil }
            if brackets.isEmpty { return position }
            position += 1
        }
        return nil
    }

    private mutating func skip(_ expected: StaticString) -> Bool {
        let count = expected.utf8CodeUnitCount
        guard bytes.count - index >= count else { return false }
        let start = expected.utf8Start
        for offset in 0..<count where bytes[index + offset] != start[offset] {
            return false
        }
        index += count
        return true
    }

    private func text(_ range: Range<Int>) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    }

    private func isHexDigit(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
            || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "F"))
            || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "f"))
    }
}

/// The brackets open at a point of a demangling (`()`, `[]`, `<>`; the `>` of `->` is none),
/// innermost last: up to 32, two bits each, so counting them allocates nothing.
private struct Brackets {
    private var kinds: UInt64 = 0
    private var depth = 0

    var isEmpty: Bool { depth == 0 }

    /// Steps over the byte at `position` of `text`; false when it closes no bracket or one
    /// of another kind, or opens one too many.
    mutating func step(_ text: UnsafeBufferPointer<UInt8>, at position: Int) -> Bool {
        switch text[position] {
        case UInt8(ascii: "("): return open(1)
        case UInt8(ascii: "["): return open(2)
        case UInt8(ascii: "<"): return open(3)
        case UInt8(ascii: ")"): return close(1)
        case UInt8(ascii: "]"): return close(2)
        case UInt8(ascii: ">"): return (position > 0 && text[position - 1] == UInt8(ascii: "-")) || close(3)
        default: return true
        }
    }

    private mutating func open(_ kind: UInt64) -> Bool {
        guard depth < 32 else { return false }
        kinds = kinds << 2 | kind
        depth += 1
        return true
    }

    private mutating func close(_ kind: UInt64) -> Bool {
        guard depth > 0, kinds & 3 == kind else { return false }
        kinds >>= 2
        depth -= 1
        return true
    }
}
