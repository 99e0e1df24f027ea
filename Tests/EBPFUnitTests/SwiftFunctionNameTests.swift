import EBPFKernel
import EBPFProgram
import XCTest

@testable import EBPF

#if canImport(Glibc)
import Glibc
#endif

/// Swift names read from full demangled symbols, and the queries people write.
final class SwiftFunctionNameTests: XCTestCase {
    private func name(_ demangled: String) -> String? {
        SwiftFunctionName(demangled: demangled)?.description
    }

    func testFunctionsMethodsAndLabels() {
        XCTAssertEqual(name("Mod.Server.handle(request: Swift.Int) -> Swift.Int"), "Mod.Server.handle(request:)")
        XCTAssertEqual(name("Mod.add(Swift.Int, Swift.Int) -> Swift.Int"), "Mod.add(_:_:)")
        XCTAssertEqual(name("Mod.f(Swift.Int) -> ()"), "Mod.f(_:)")
        XCTAssertEqual(name("Mod.Klass.m(_: Swift.Int, b: Swift.Int) -> ()"), "Mod.Klass.m(_:b:)")
        XCTAssertEqual(name("Mod.run() -> ()"), "Mod.run()")
        XCTAssertEqual(name("Mod.f(()) -> ()"), "Mod.f(_:)")
        XCTAssertEqual(name("Mod.f(in: Swift.Int, for: inout Swift.String) -> ()"), "Mod.f(in:for:)")
        // Closure, dictionary, tuple and variadic parameters split at the top level only.
        XCTAssertEqual(
            name(
                "Mod.Server.apply(_: (Swift.Int, Swift.Int) -> Swift.Int, dict: [Swift.String : Swift.Int]) -> Swift.Int"
            ),
            "Mod.Server.apply(_:dict:)")
        XCTAssertEqual(name("Mod.f((a: Swift.Int, b: Swift.Int), c: Swift.Int) -> ()"), "Mod.f(_:c:)")
        XCTAssertEqual(
            name("Swift.print(_: Any..., separator: Swift.String, terminator: Swift.String) -> ()"),
            "Swift.print(_:separator:terminator:)")
        XCTAssertEqual(
            name("Swift._finalizeUninitializedArray<A>(__owned [A]) -> [A]"), "Swift._finalizeUninitializedArray(_:)")
        XCTAssertEqual(
            name(
                "Basics.Client.execute(_: Basics.Request, progress: (@Sendable (Swift.Int64, Swift.Int64?) throws -> ())?) -> ()"
            ), "Basics.Client.execute(_:progress:)")
        // Effects and result types are not part of the name.
        XCTAssertEqual(name("Mod.Server.g() async throws -> Swift.Int"), "Mod.Server.g()")
        XCTAssertEqual(name("Mod.thrower() throws(Mod.Failure) -> Swift.Int"), "Mod.thrower()")
        XCTAssertEqual(name("Mod.closure() -> () -> Swift.Int"), "Mod.closure()")
        // Functions may have an accessor's name.
        XCTAssertEqual(
            name("Mod.Parser.read(bytes: Swift.Int) throws -> Swift.ArraySlice<Swift.UInt8>"), "Mod.Parser.read(bytes:)"
        )
        XCTAssertEqual(name("Mod.Server.count.getter() -> Swift.Int"), "Mod.Server.count.getter()")
        XCTAssertEqual(name("static Mod.Main.$main() -> ()"), "static Mod.Main.$main()")
    }

    func testStructure() throws {
        let handle = try XCTUnwrap(
            SwiftFunctionName(demangled: "static Mod.Outer.Server.make(port: Swift.Int) -> Mod.Outer.Server"))
        XCTAssertEqual(handle.module, "Mod")
        XCTAssertEqual(handle.path, ["Outer", "Server", "make"])
        XCTAssertEqual(handle.labels, ["port"])
        XCTAssertTrue(handle.isStatic)
        XCTAssertEqual(handle.description, "static Mod.Outer.Server.make(port:)")
        XCTAssertEqual(handle.qualifiedName, "Mod.Outer.Server.make(port:)")
        XCTAssertEqual(handle.nameWithoutModule, "Outer.Server.make(port:)")
        let getter = try XCTUnwrap(SwiftFunctionName(demangled: "Mod.Server.count.getter : Swift.Int"))
        XCTAssertEqual(getter.path, ["Server", "count", "getter"])
        XCTAssertNil(getter.labels)
        XCTAssertFalse(getter.isStatic)
    }

    func testGenericClausesAreDropped() {
        XCTAssertEqual(name("Mod.gen<A where A: Swift.Equatable>(A) -> A"), "Mod.gen(_:)")
        XCTAssertEqual(name("Mod.Box<A>.get() -> A?"), "Mod.Box.get()")
        XCTAssertEqual(name("Mod.Box.get() -> A?"), "Mod.Box.get()")
        XCTAssertEqual(
            name("Mod.Pair<A, B where A == (Swift.Int) -> Swift.Int>.swap<C>(with: C) -> Mod.Pair<B, A>"),
            "Mod.Pair.swap(with:)")
        XCTAssertEqual(
            name(
                "static (extension in Swift):Swift.Task< where A == Swift.Never, B == Swift.Never>.sleep(nanoseconds: Swift.UInt64) async throws -> ()"
            ), "static Swift.Task.sleep(nanoseconds:)")
    }

    /// The copies an optimized build makes of a function, which its calls reach instead of
    /// it, are named as the function.
    func testSpecializationsAreNamedAsTheirFunction() {
        XCTAssertEqual(
            name("generic specialization <Swift.Int> of Mod.gen<A where A: Swift.Equatable>(A) -> A"), "Mod.gen(_:)")
        XCTAssertEqual(
            name(
                "function signature specialization <Arg[1] = Dead> of static Mod.Lang.known(withName: Swift.String) -> Mod.Lang?"
            ),
            "static Mod.Lang.known(withName:)")
        XCTAssertEqual(
            name(
                "function signature specialization <Arg[0] = [Closure Propagated : closure #1 (Swift.Int) -> Swift.Int in Mod.run() -> (), Argument Types : []]> of generic specialization <Swift.Int> of Mod.Box<A>.map(_: (A) -> A) -> Mod.Box<A>"
            ), "Mod.Box.map(_:)")
    }

    func testExtensionsTakeTheModuleOfTheType() throws {
        XCTAssertEqual(name("(extension in Other):Mod.Type.f() throws -> Swift.Int"), "Mod.Type.f()")
        XCTAssertEqual(name("(extension in Mod):Swift.Array.extra() -> ()"), "Swift.Array.extra()")
        XCTAssertEqual(
            name(
                "(extension in SwiftFormat):SwiftFormat.Rule.diagnose<A where A1: SwiftSyntax.SyntaxProtocol>(_: SwiftFormat.Finding.Message, on: A1?) -> ()"
            ), "SwiftFormat.Rule.diagnose(_:on:)")
        XCTAssertEqual(
            name(
                "(extension in SwiftParser):SwiftSyntax.Options.init(token: SwiftSyntax.TokenSyntax) -> (extension in SwiftParser):SwiftSyntax.Options?"
            ), "SwiftSyntax.Options.init(token:)")
        XCTAssertNil(name("(extension in ):Mod.Type.f() -> ()"))
        XCTAssertNil(name("(extension in Other)Mod.Type.f() -> ()"))
    }

    func testPrivateDiscriminators() {
        XCTAssertEqual(
            name("Mod.(Server in _9567D6C66E8655372284789EB33E4317).handle(request: Swift.Int) -> ()"),
            "Mod.Server.handle(request:)")
        XCTAssertEqual(
            name("Mod.Server.(secret in _9567D6C66E8655372284789EB33E4317)(a: Swift.Int) -> ()"),
            "Mod.Server.secret(a:)")
        XCTAssertEqual(
            name("static Mod.(Lang in _D5B7).(known in _D5B7)<A>(withName: A) -> Mod.Lang?"),
            "static Mod.Lang.known(withName:)")
        for bad in [
            "Mod.(Server in 9567D6).handle() -> ()", "Mod.(Server in _).handle() -> ()",
            "Mod.(Server in _XYZ).handle() -> ()",
            "Mod.( in _0A1B).handle() -> ()", "Mod.(1Server in _0A1B).handle() -> ()",
            "Mod.(Server in _0A1B.handle() -> ()",
            "Mod.Server.(in _0A1B).init(path: Swift.String) -> Mod.Server", "(Server in _0A1B).handle() -> ()",
        ] {
            XCTAssertNil(name(bad), bad)
        }
    }

    func testInitializersDeinitializersAndAccessors() {
        XCTAssertEqual(name("Mod.Server.init(x: Swift.Int) -> Mod.Server"), "Mod.Server.init(x:)")
        // A class's allocating entry calls its `init`: named apart, so `init` counts each once.
        XCTAssertEqual(name("Mod.Klass.__allocating_init() -> Mod.Klass"), "Mod.Klass.__allocating_init()")
        XCTAssertEqual(name("Mod.Klass.deinit"), "Mod.Klass.deinit")
        XCTAssertEqual(name("Mod.Klass.__deallocating_deinit"), "Mod.Klass.__deallocating_deinit")
        XCTAssertEqual(name("Mod.Server.count.getter : Swift.Int"), "Mod.Server.count.getter")
        XCTAssertEqual(name("Mod.Server.count.setter : Swift.Int"), "Mod.Server.count.setter")
        XCTAssertEqual(name("Mod.Server.count.modify : Swift.Int"), "Mod.Server.count.modify")
        XCTAssertEqual(name("Mod.Klass.coro.read : Swift.Int"), "Mod.Klass.coro.read")
        XCTAssertEqual(name("Mod.Server.stored.didset : Swift.Int"), "Mod.Server.stored.didset")
        XCTAssertEqual(name("Mod.Server.stored.willset : Swift.Int"), "Mod.Server.stored.willset")
        XCTAssertEqual(name("static Mod.Server.shared.getter : Mod.Server"), "static Mod.Server.shared.getter")
        XCTAssertEqual(name("Mod.global.unsafeMutableAddressor : Swift.Int"), "Mod.global.unsafeMutableAddressor")
        XCTAssertEqual(name("Mod.Server.subscript.getter : (Swift.Int) -> Swift.Int"), "Mod.Server.subscript.getter")
        XCTAssertEqual(
            name("Mod.Server.handler.getter : (Swift.Int) -> [Swift.String : Swift.Int]"), "Mod.Server.handler.getter")
        for bad in [
            "Mod.Klass.deinit : Swift.Int", "Mod.deinit", "Mod.Klass.__ivar_destroyer", "Mod.Server.count.getter",
            "Mod.getter : Swift.Int", "Mod.Server.count : Swift.Int",
            "Mod.Server.count.init : Swift.Int", "Mod.Klass.deinit() -> ()",
        ] {
            XCTAssertNil(name(bad), bad)
        }
    }

    /// What is not a plain function has no name: a part of one, a thunk, data, or a form this
    /// reader does not know.
    func testOtherEntitiesHaveNoName() {
        for demangled in [
            "closure #1 (Swift.Int) -> Swift.Int in Mod.Server.handle(request: Swift.Int) -> Swift.Int",
            "closure #1 in Mod.closure() -> () -> Swift.Int",
            "implicit closure #1 ((path: Swift.String, time: __C.timespec)) -> Swift.String in static Mod.Files.files(in: Swift.String) -> [Swift.String]",
            "inner #1 () -> () in Mod.local() -> ()",
            "__deallocating_deinit in C #1 in Mod.version() throws -> Swift.String",
            "visit(Mod.Node) -> Mod.Kind in Visitor #1 in Mod.Table.add(_: Mod.File) throws -> ()",
            "spec.getter : Mod.TokenSpec in Modifier #1 in Mod.Parser.parseModifier() -> Mod.Syntax",
            "thunk for @escaping @callee_guaranteed () -> ()",
            "reabstraction thunk helper from @escaping @callee_guaranteed () -> (@owned Mod.List) to @escaping @callee_guaranteed () -> (@out Mod.List)",
            "dispatch thunk of Mod.Base.run() -> ()",
            "vtable thunk for Mod.Arena.contains(text: Mod.Text) -> Swift.Bool dispatching to Mod.Parsing.contains(text: Mod.Text) -> Swift.Bool",
            "protocol witness for Swift.Hashable._rawHashValue(seed: Swift.Int) -> Swift.Int in conformance Mod.Kind : Swift.Hashable in Mod",
            "partial apply forwarder for closure #1 () -> Swift.Int in Mod.closure() -> () -> Swift.Int",
            "merged Mod.Server.handle(request: Swift.Int) -> Swift.Int",
            "outlined copy of Mod.Task?",
            "outlined init with take of Mod.Server",
            "specialized Mod.gen<A>(A) -> A",
            "generic specialization <Swift.Int> of closure #1 () -> () in Mod.gen<A>(A) -> ()",
            "function signature specialization <Arg[1] = Dead> of Mod.gen(Swift.Int) -> Swift.Int with unmangled suffix \".cold.1\"",
            "generic specialization <Swift.Int of Mod.gen<A>(A) -> A",
            "(2) await resume partial function for Mod.Channel.read<A where A: Swift.Sendable>(as: A.Type) async throws -> A?",
            "(1) suspend resume partial function for Mod.Server.fetch() async -> Swift.Int",
            "async function pointer to Mod.Server.g() async throws -> Swift.Int",
            "Mod.Server.count.modify : Swift.Int with unmangled suffix \".resume.0\"",
            "Mod.Server.handle(request: Swift.Int) -> Swift.Int with unmangled suffix \".cold.1\"",
            "type metadata accessor for Mod.Server",
            "type metadata for Mod.Server",
            "nominal type descriptor for Mod.Server",
            "method descriptor for Mod.Server.handle(request: Swift.Int) -> Swift.Int",
            "value witness table for Mod.Server",
            "getEnumTagSinglePayload value witness for Mod.E",
            "variable initialization expression of Mod.Server.stored : Swift.Int",
            "one-time initialization function for knownLanguages",
            "lazy protocol witness table accessor for type Mod.Kind and conformance Mod.Kind : Swift.Equatable in Mod",
            "@objc Mod.Klass.run() -> ()",
            "@objc closure #1 (Swift.Int32) -> () in Mod.(trap in _BB82)() -> ()",
            "@nonobjc __C.atomic_create(Swift.UInt32) -> ()",
            "default argument 0 of Mod.Server.defaulted(a: Swift.Int) -> ()",
            "key path getter for Mod.URL.absoluteString : Swift.String : Mod.URL",
            "property wrapper backing initializer of Mod.Options.flags : [Swift.String]",
            "<<opaque return type of Mod.f() -> some Mod.P>>.0",
            "static Mod.Kind.== infix(Mod.Kind, Mod.Kind) -> Swift.Bool",
            "static Mod.Size.+= infix(inout Mod.Size, Mod.Size) -> ()",
            "Mod.Client.execute@Sendable (_: Mod.Request) -> ()",
            "Mod.Server", "Mod", "", "Mod.", ".f() -> ()", "Mod.f(", "Mod.f(]", "Mod.f(Swift.Int -> ()",
            "Mod.f() -> () in Mod", "Mod.f() of Mod.g() -> ()", "Mod.f() -> Swift.Int #1", "Mod.f() foo",
            "Mod.f() -> ", "Mod.f<A(A) -> A", "Mod.f() async -> (", "Mod.f() throws(Mod.E -> ()",
        ] {
            XCTAssertNil(SwiftFunctionName(demangled: demangled), demangled)
        }
    }

    func testQueries() throws {
        let query = try XCTUnwrap(SwiftFunctionQuery("MyModule.Server.handle(request:)"))
        XCTAssertEqual(query.components, ["MyModule", "Server", "handle"])
        XCTAssertEqual(query.labels, ["request"])
        XCTAssertFalse(query.isStatic)
        XCTAssertEqual(SwiftFunctionQuery("static Server.make()")?.isStatic, true)
        XCTAssertEqual(SwiftFunctionQuery("static Server.make()")?.labels, [])
        XCTAssertEqual(SwiftFunctionQuery("handle")?.labels, nil)
        XCTAssertEqual(SwiftFunctionQuery("add(_:_:)")?.labels, ["_", "_"])
        XCTAssertEqual(SwiftFunctionQuery("Server.count.getter")?.components, ["Server", "count", "getter"])
        XCTAssertEqual(SwiftFunctionQuery("$s4main3fooyyF")?.components, ["$s4main3fooyyF"])
        XCTAssertEqual(SwiftFunctionQuery("Café.größe()")?.components, ["Café", "größe"])
        for text in [
            "", "static ", "static  f", "Static f", "a..b", ".f", "f.", "1abc", "f(x)", "f(:)", "f(a:", "f(a:)x",
            "f(a: b:)",
            "Box<Int>.get()", "f (a:)", "f()()", "a b", "*", "f(a::)", "-", "f(_)",
        ] {
            XCTAssertNil(SwiftFunctionQuery(text), text)
        }
    }

    func testMatching() throws {
        let handle = try XCTUnwrap(
            SwiftFunctionName(demangled: "MyModule.Server.handle(request: Swift.Int) -> Swift.Int"))
        let make = try XCTUnwrap(SwiftFunctionName(demangled: "static MyModule.Server.make() -> MyModule.Server"))
        func matches(_ name: SwiftFunctionName, _ text: String) -> Bool {
            name.matches(SwiftFunctionQuery(text)!)
        }
        for text in [
            "handle", "Server.handle", "MyModule.Server.handle", "handle(request:)", "Server.handle(request:)",
            "MyModule.Server.handle(request:)",
        ] {
            XCTAssertTrue(matches(handle, text), text)
        }
        for text in [
            "andle", "rver.handle", "Other.Server.handle", "handle()", "handle(_:)", "handle(request:extra:)", "Server",
            "static Server.handle", "MyModule.Server.handle.getter", "X.MyModule.Server.handle",
        ] {
            XCTAssertFalse(matches(handle, text), text)
        }
        XCTAssertTrue(matches(make, "static Server.make()"))
        XCTAssertTrue(matches(make, "Server.make()"))
        XCTAssertTrue(matches(make, "static make"))
        let getter = try XCTUnwrap(SwiftFunctionName(demangled: "MyModule.Server.count.getter : Swift.Int"))
        XCTAssertTrue(matches(getter, "count.getter"))
        XCTAssertFalse(matches(getter, "count"))
        XCTAssertFalse(matches(getter, "count.getter()"))
    }

    /// For every Swift function symbol of this test binary that has a name here,
    /// `swift demangle --simplified` gives the same name once generic clauses are removed.
    /// The one difference allowed, as documented: a specialization is named as its function. (The simplified form leaves out modules,
    /// private discriminators, parameter types and effects, as the name does.)
    func testNamesAgreeWithSwiftDemangleSimplified() throws {
        // The toolchain that built the tests is on PATH wherever they run (the guests get it too).
        let swift = try XCTUnwrap(Command.find("swift"), "swift is not on PATH")
        let demangler = String(swift[..<swift.lastIndex(of: "/")!]) + "/swift-demangle"
        XCTAssertEqual(access(demangler, X_OK), 0, "no swift-demangle next to \(swift)")
        let file = try FileDescriptor.open("/proc/self/exe", O_RDONLY)
        var named: [(symbol: String, name: SwiftFunctionName)] = []
        for function in try ELFFunctions.read(file) {
            guard function.symbol.hasPrefix("$s") || function.symbol.hasPrefix("_$s"),
                let demangled = SwiftDemangler.demangle(function.symbol),
                let name = SwiftFunctionName(demangled: demangled)
            else { continue }
            named.append((function.symbol, name))
        }
        XCTAssertGreaterThan(named.count, 500)
        let input = try Command.temporaryFile(named.map(\.symbol).joined(separator: "\n") + "\n")
        defer { unlink(input) }
        let simplified = try Command.run(demangler, ["--simplified"], input: input)
            .split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        XCTAssertEqual(simplified.count, named.count)
        var mismatches: [String] = []
        for ((symbol, name), line) in zip(named, simplified) {
            var expected = Self.removingGenericClauses(String(line))
            // A specialization is named as the function it was made of.
            if expected.hasPrefix("specialized ") { expected.removeFirst("specialized ".count) }
            let actual = (name.isStatic ? "static " : "") + name.nameWithoutModule
            if actual != expected { mismatches.append("\(symbol): \(actual) != \(expected)") }
        }
        XCTAssertEqual(mismatches.prefix(20), [], "\(mismatches.count) of \(named.count) differ")
    }

    /// `text` without its `<…>` clauses (the `>` of `->` closes none).
    static func removingGenericClauses(_ text: String) -> String {
        var result = ""
        var depth = 0
        var previous: Character = " "
        for character in text {
            switch character {
            case "<": depth += 1
            case ">" where previous != "-": depth -= 1
            default: if depth == 0 { result.append(character) }
            }
            previous = character
        }
        return result
    }
}
