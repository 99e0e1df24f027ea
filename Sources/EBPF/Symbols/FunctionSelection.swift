#if canImport(Glibc)
import Glibc
#endif
import EBPFKernel
import EBPFProgram

/// A function chosen in a binary, with the name to show for it.
struct NamedFunction: Sendable, Hashable {
    let function: ELFFunction
    /// Its Swift or C++ name (``SwiftFunctionName/description``,
    /// ``CxxFunctionName/description``), or else its symbol.
    let name: String
}

/// Chooses a binary's functions by what a person writes: a symbol, a Swift name, a shell
/// pattern or a `/regex/`.
enum FunctionSelection {
    /// The most functions one query may choose, as bpftrace bounds a wildcard.
    static let limit = 512

    /// The functions `query` names among `functions`, one per address (of aliases, the one
    /// with a Swift or C++ name, else a global one, else the first in `functions`), sorted by
    /// address:
    ///
    /// - `/regex/`: a POSIX extended regular expression, searched for in each function's
    ///   name (a Swift one with and without module and `static `, a C++ one with and
    ///   without parameters) and its symbol;
    /// - text with `*` or `?`: a shell pattern (`fnmatch`), matching a whole name (as a
    ///   regular expression searches) or symbol;
    /// - other text: the functions whose symbol it is; if there are none, those whose Swift
    ///   name it names (``SwiftFunctionQuery``: `handle`, `Server.handle(request:)`,
    ///   `static Server.make()`) or whose C++ name it names (``CxxFunctionQuery``:
    ///   `Counter::add`, `ns::Counter::add(long, long) const`), every overload when it gives
    ///   no parameter list.
    ///
    /// Each Swift and C++ symbol is demangled at most once per call.
    ///
    /// - Parameter binaryDescription: The binary as errors name it (its path).
    /// - Throws: ``EBPFError/Code/invalidArgument`` for a query ``NameValidation/userFunction(_:)``
    ///   refuses, a regular expression that does not compile, or more than ``limit``
    ///   matches; ``EBPFError/Code/notFound`` when nothing matches.
    static func select(_ query: String, from functions: [ELFFunction], in binaryDescription: String) throws(EBPFError)
        -> [NamedFunction]
    {
        let matched = try matches(query, in: functions)
        // An indirect function's symbol is its resolver, which calls never reach.
        let chosen = matched.filter { !$0.function.isIndirect }
        if chosen.isEmpty, let indirect = matched.first {
            throw EBPFError(
                .notSupported,
                "\(NameValidation.quoted(indirect.name)) in \(binaryDescription) is an indirect function (IFUNC): its symbol is the resolver that picks an implementation when the program is loaded, and calls reach that implementation, not the symbol; probe the implementation by its name where the binary lists it (UserFunction.all(in:matching:); a stripped library does not), or the callers"
            )
        }
        guard chosen.count <= limit else {
            throw EBPFError(
                .invalidArgument,
                "\(NameValidation.quoted(query)) matches \(chosen.count) functions in \(binaryDescription); at most \(limit) can be probed at once: narrow the pattern"
            )
        }
        guard !chosen.isEmpty else {
            throw EBPFError(
                .notFound,
                "no function in \(binaryDescription) matches \(NameValidation.quoted(query)); list its functions with UserFunction.all(in:matching:) or `ebpf-trace --list-functions`"
            )
        }
        return chosen
    }

    /// Every function `query` names among `functions`, as ``select(_:from:in:)`` finds them
    /// but without its bound: none is an empty list.
    ///
    /// - Throws: ``EBPFError/Code/invalidArgument`` for a query ``NameValidation/userFunction(_:)``
    ///   refuses or a regular expression that does not compile.
    static func matches(_ query: String, in functions: [ELFFunction]) throws(EBPFError) -> [NamedFunction] {
        try NameValidation.userFunction(query)
        var names = SourceNames(functions)
        var matched: [Int]
        if query.utf8.count >= 2, query.hasPrefix("/"), query.hasSuffix("/") {
            let pattern = try Pattern(regex: String(query.dropFirst().dropLast()))
            defer { pattern.free() }
            matched = functions.indices.filter { index in
                names.candidates(index).contains(where: pattern.search)
            }
        } else if query.contains("*") || query.contains("?") {
            matched = functions.indices.filter { index in
                names.candidates(index).contains { fnmatch(query, $0, 0) == 0 }
            }
        } else {
            matched = functions.indices.filter { functions[$0].symbol == query }
            if matched.isEmpty {
                let swiftQuery = SwiftFunctionQuery(query)
                let cxxQuery = CxxFunctionQuery(query)
                if swiftQuery != nil || cxxQuery != nil {
                    matched = functions.indices.filter { names.name(of: $0)?.matches(swiftQuery, cxxQuery) ?? false }
                }
            }
        }

        // One per address: sorted by address, aliases are neighbours. (ELFFunctions gives
        // them sorted by address and symbol already; the order of ties is kept.)
        matched.sort { (functions[$0].address, $0) < (functions[$1].address, $1) }
        func rank(_ index: Int) -> Int {
            (names.name(of: index) != nil ? 2 : 0) + (functions[index].isGlobal ? 1 : 0)
        }
        var chosen: [Int] = []
        for index in matched {
            guard let last = chosen.last, functions[last].address == functions[index].address else {
                chosen.append(index)
                continue
            }
            if rank(index) > rank(last) { chosen[chosen.count - 1] = index }
        }
        return chosen.map { index in
            NamedFunction(
                function: functions[index], name: names.name(of: index)?.description ?? functions[index].symbol)
        }
    }

    /// The Swift and C++ names of `functions`, each demangled when first asked for.
    private struct SourceNames {
        let functions: [ELFFunction]
        private var cache: [SourceName??]

        init(_ functions: [ELFFunction]) {
            self.functions = functions
            cache = Array(repeating: nil, count: functions.count)
        }

        mutating func name(of index: Int) -> SourceName? {
            if let cached = cache[index] { return cached }
            let symbol = functions[index].symbol
            var name: SourceName?
            if symbol.hasPrefix("$s") || symbol.hasPrefix("_$s") {
                name = SwiftDemangler.demangle(symbol).flatMap(SwiftFunctionName.init(demangled:)).map(SourceName.swift)
            } else if symbol.hasPrefix("_Z") {
                name = CxxDemangler.demangle(symbol).flatMap(CxxFunctionName.init(demangled:)).map(SourceName.cxx)
            }
            cache[index] = .some(name)
            return name
        }

        /// What a pattern is matched against: the symbol, and a Swift name with and without
        /// module and `static `, or a C++ name with and without its parameters.
        mutating func candidates(_ index: Int) -> [String] {
            let symbol = functions[index].symbol
            switch name(of: index) {
            case .swift(let name):
                var candidates = [symbol, name.qualifiedName, name.nameWithoutModule]
                if name.isStatic {
                    candidates += ["static " + name.qualifiedName, "static " + name.nameWithoutModule]
                }
                return candidates
            case .cxx(let name): return [symbol, name.description, name.qualifiedName]
            case nil: return [symbol]
            }
        }
    }

    /// A function's name in the language it was written in.
    private enum SourceName {
        case swift(SwiftFunctionName)
        case cxx(CxxFunctionName)

        var description: String {
            switch self {
            case .swift(let name): name.description
            case .cxx(let name): name.description
            }
        }

        func matches(_ swiftQuery: SwiftFunctionQuery?, _ cxxQuery: CxxFunctionQuery?) -> Bool {
            switch self {
            case .swift(let name): swiftQuery.map(name.matches) ?? false
            case .cxx(let name): cxxQuery.map(name.matches) ?? false
            }
        }
    }

    /// A compiled POSIX extended regular expression (`regcomp`), freed by ``free()``.
    private struct Pattern {
        private let compiled: UnsafeMutablePointer<regex_t>

        init(regex: String) throws(EBPFError) {
            compiled = .allocate(capacity: 1)
            let status = regcomp(compiled, regex, REG_EXTENDED | REG_NOSUB)
            guard status == 0 else {
                var message = [CChar](repeating: 0, count: max(1, regerror(status, compiled, nil, 0)))
                regerror(status, compiled, &message, message.count)
                compiled.deallocate()
                let reason = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                throw EBPFError(
                    .invalidArgument,
                    "the regular expression \(NameValidation.quoted(regex)) does not compile: \(reason)")
            }
        }

        /// Whether the expression matches somewhere in `text`.
        func search(_ text: String) -> Bool {
            regexec(compiled, text, 0, nil, 0) == 0
        }

        func free() {
            regfree(compiled)
            compiled.deallocate()
        }
    }
}
