import EBPFKernel
import EBPFProgram
import XCTest

@testable import EBPF

#if canImport(Glibc)
import Glibc
#endif

/// C++ names read from demangled symbols, the queries people write, and libstdc++'s own
/// functions named as binutils' `c++filt` names them.
final class CxxFunctionNameTests: XCTestCase {
    private func name(_ demangled: String) -> String? {
        CxxFunctionName(demangled: demangled)?.description
    }

    private func matches(_ demangled: String, _ query: String) throws -> Bool {
        try XCTUnwrap(CxxFunctionName(demangled: demangled), demangled)
            .matches(try XCTUnwrap(CxxFunctionQuery(query), query))
    }

    /// The demanglings g++ gives a class's members, a template, an operator and a function
    /// of an anonymous namespace: a template's return type is dropped.
    func testFunctionsMethodsTemplatesAndOperators() {
        XCTAssertEqual(name("ns::C::add(long, long) const"), "ns::C::add(long, long) const")
        XCTAssertEqual(name("ns::C::s()"), "ns::C::s()")
        XCTAssertEqual(name("long ns::C::get<long>(long)"), "ns::C::get<long>(long)")
        XCTAssertEqual(name("ns::C::C(long)"), "ns::C::C(long)")
        XCTAssertEqual(name("ns::C::~C()"), "ns::C::~C()")
        XCTAssertEqual(name("ns::C::operator()(long)"), "ns::C::operator()(long)")
        XCTAssertEqual(name("ns::C::operator bool() const"), "ns::C::operator bool() const")
        XCTAssertEqual(name("ns::C::operator<(ns::C const&) const"), "ns::C::operator<(ns::C const&) const")
        XCTAssertEqual(name("bool ns::operator<< <int>(ns::C&, int)"), "ns::operator<< <int>(ns::C&, int)")
        XCTAssertEqual(
            CxxFunctionName(demangled: "std::istream& std::operator>><float, char>(std::istream&, float&)")?.components,
            ["std", "operator>><float, char>"])
        XCTAssertEqual(name("operator new(unsigned long)"), "operator new(unsigned long)")
        XCTAssertEqual(name("ns::operator\"\" _km(unsigned long long)"), "ns::operator\"\" _km(unsigned long long)")
        XCTAssertEqual(name("C::operator void (C::*)()() const"), "C::operator void (C::*)()() const")
        XCTAssertEqual(name("ns::(anonymous namespace)::hid(int)"), "ns::(anonymous namespace)::hid(int)")
        XCTAssertEqual(name("ns::ptr(char const*, void (*)(int))"), "ns::ptr(char const*, void (*)(int))")
        XCTAssertEqual(
            name("std::vector<int, std::allocator<int> > ns::make<int>(unsigned long) &&"),
            "ns::make<int>(unsigned long) &&")
        XCTAssertEqual(
            CxxFunctionName(demangled: "std::__cxx11::to_string[abi:cxx11](int)")?.components,
            ["std", "__cxx11", "to_string[abi:cxx11]"])
        XCTAssertEqual(name("main"), nil)
    }

    /// GCC's copies for some callers are named as their function; a function's split-off
    /// parts, thunks and lambdas have no name.
    func testClonesThunksAndLocalFunctions() {
        XCTAssertEqual(name("ns::f(int) [clone .constprop.0]"), "ns::f(int)")
        XCTAssertEqual(name("ns::f(int) [clone .isra.0] [clone .constprop.0]"), "ns::f(int)")
        XCTAssertEqual(name("ns::f(int) [clone .cold]"), nil)
        XCTAssertEqual(name("ns::f(int) [clone .part.0]"), nil)
        XCTAssertEqual(name("non-virtual thunk to ns::D::f()"), nil)
        XCTAssertEqual(name("virtual thunk to ns::D::~D()"), nil)
        XCTAssertEqual(name("ns::callhid(int)::{lambda(int)#1}::operator()(int) const"), nil)
        XCTAssertEqual(name("ns::f()::Local::g()"), nil)
        XCTAssertEqual(name("ns::C::operator()(int)::Local::get()"), nil)
        XCTAssertEqual(name("ns::C::operator bool() const::Local::f()"), nil)
        XCTAssertEqual(name("ns::f(int"), nil)
    }

    /// A query names whole trailing components; without template arguments it names every
    /// instantiation, without parameters every overload; spaces in parameters do not count.
    func testQueries() throws {
        XCTAssertTrue(try matches("ns::C::add(long, long) const", "add"))
        XCTAssertTrue(try matches("ns::C::add(long, long) const", "C::add"))
        XCTAssertTrue(try matches("ns::C::add(long, long) const", "ns::C::add"))
        XCTAssertTrue(try matches("ns::C::add(long, long) const", "ns::C::add(long,long) const"))
        XCTAssertFalse(try matches("ns::C::add(long, long) const", "ns::C::add(long, long)"))
        XCTAssertFalse(try matches("ns::C::add(long, long) const", "C::ad"))
        XCTAssertFalse(try matches("ns::C::add(long, long) const", "s::C::add"))
        XCTAssertFalse(try matches("ns::C::add(long, long) const", "other::ns::C::add"))
        XCTAssertTrue(try matches("long ns::twice<long>(long)", "ns::twice"))
        XCTAssertTrue(try matches("long ns::twice<long>(long)", "ns::twice<long>"))
        XCTAssertFalse(try matches("int ns::twice<int>(int)", "ns::twice<long>"))
        XCTAssertTrue(try matches("std::__cxx11::to_string[abi:cxx11](int)", "std::__cxx11::to_string"))
        XCTAssertTrue(try matches("ns::C::operator()(long)", "C::operator()(long)"))
        XCTAssertTrue(try matches("ns::(anonymous namespace)::hid(int)", "hid"))
        XCTAssertTrue(try matches("ns::C::~C()", "C::~C"))
        // What the listing prints reads back; template arguments are compared without
        // spaces and ABI tags; an operator without template arguments names every
        // instantiation, and `operator()` without parameters every overload.
        XCTAssertTrue(try matches("ns::(anonymous namespace)::hid(int)", "ns::(anonymous namespace)::hid(int)"))
        XCTAssertTrue(try matches("ns::pair<long, int>::get() const", "ns::pair<long,int>::get"))
        XCTAssertTrue(try matches("ns::f<int>[abi:cxx11](int)", "ns::f<int>"))
        XCTAssertTrue(try matches("bool ns::operator==<int>(ns::C const&, int)", "ns::operator=="))
        let shift = "std::ostream& std::operator<< <std::char_traits<char> >(std::ostream&, char)"
        XCTAssertTrue(try matches(shift, "std::operator<<"))
        XCTAssertFalse(try matches(shift, "std::operator<"))
        XCTAssertTrue(try matches("ns::C::operator()(long)", "C::operator()"))
        XCTAssertNil(CxxFunctionQuery("ns::(x"))
        XCTAssertNil(CxxFunctionQuery("ns::"))
    }

    /// Random texts of C++'s punctuation and words, 20,000 from a fixed seed: reading one
    /// never traps, and a name read back from its own text is the same name.
    func testArbitraryTextsAreReadSafely() {
        let pieces = [
            "ns", "::", "C", "operator", " ", "<", ">", "(", ")", "[", "]", "{", "}", ",", "const", "&", "*",
            "<<", "()", "int", "~", "[clone .cold]", " [clone .isra.0]", "(anonymous namespace)", "abi:", "new",
        ]
        var generator = SplitMix64(seed: 0xC0FF)
        for _ in 0..<20_000 {
            let count = Int.random(in: 1...12, using: &generator)
            let text = (0..<count).map { _ in pieces.randomElement(using: &generator)! }.joined()
            _ = CxxFunctionQuery(text)
            guard let name = CxxFunctionName(demangled: text) else { continue }
            let again = CxxFunctionName(demangled: name.description)
            XCTAssertEqual(again, name, "\(text) → \(name.description)")
        }
    }

    /// The text form splits a uprobe at the lone `:` before a C++ name, not in its `::`
    /// or an ABI tag.
    func testAttachPointTextKeepsTheScopes() throws {
        for function in [
            "std::uncaught_exceptions", "ns::C::add(long, long) const", "std::__cxx11::to_string[abi:cxx11]",
        ] {
            let point = try AttachPoint(parsing: "uprobe:stdc++:\(function)")
            XCTAssertEqual(point, .uprobe(function, in: "stdc++"))
            XCTAssertEqual(try AttachPoint(parsing: point.description), point)
        }
        // bpftrace's spelling; a path's brackets are not the function's.
        XCTAssertEqual(try AttachPoint(parsing: "uprobe:/srv/app:cpp:\"ns::f\""), .uprobe("ns::f", in: "/srv/app"))
        XCTAssertEqual(try AttachPoint(parsing: "uprobe:/srv/app:cpp:ns::f"), .uprobe("ns::f", in: "/srv/app"))
        let oddPath = AttachPoint.uprobe("ns::f", in: "/opt/a>b[c/app")
        XCTAssertEqual(try AttachPoint(parsing: oddPath.description), oddPath)
    }

    /// Every C++ function libstdc++ exports: the demangler reads its symbol as `c++filt`
    /// does, and the name given is the demangling without a template's return type or a
    /// clone suffix; only thunks, local functions and split-off parts have none.
    func testLibstdcxxFunctionsAreNamedAsCxxfiltNamesThem() throws {
        let functions = try UserFunction.all(in: "stdc++", matching: "_Z*")
        XCTAssertGreaterThan(functions.count, 1000)
        let cxxfilt = try XCTUnwrap(Command.find("c++filt"), "binutils' c++filt is not installed")
        let input = try Command.temporaryFile(functions.map(\.symbol).joined(separator: "\n") + "\n")
        defer { unlink(input) }
        let demangled = try Command.run(cxxfilt, [], input: input).split(separator: "\n").map(String.init)
        XCTAssertEqual(demangled.count, functions.count)
        // c++filt spells out the four types the ABI abbreviates (`Ss`, `Si`, `So`, `Sd`);
        // the runtime's demangler, as libbcc's symbolizer and bpftrace, mostly does not: the
        // two are compared with them abbreviated and no space before a `>`.
        let abbreviations: [(spelledOut: String, abbreviated: String)] = [
            ("std::basic_string<char, std::char_traits<char>, std::allocator<char> >", "std::string"),
            ("std::basic_istream<char, std::char_traits<char> >", "std::istream"),
            ("std::basic_ostream<char, std::char_traits<char> >", "std::ostream"),
            ("std::basic_iostream<char, std::char_traits<char> >", "std::iostream"),
        ]
        func abbreviated(_ text: String) -> String {
            abbreviations.reduce(text) { $0.replacing($1.spelledOut, with: $1.abbreviated) }.replacing(" >", with: ">")
        }
        var unnamed: [String] = []
        for (function, spelledOut) in zip(functions, demangled) {
            let ours = try XCTUnwrap(CxxDemangler.demangle(function.symbol), function.symbol)
            XCTAssertEqual(abbreviated(ours), abbreviated(spelledOut), function.symbol)
            guard function.name != function.symbol else {
                unnamed.append(ours)
                continue
            }
            let whole = ours.replacing(#/ \[clone \.[^\]]*\]/#, with: "")
            XCTAssertTrue(whole == function.name || whole.hasSuffix(" " + function.name), "\(ours) → \(function.name)")
        }
        let reasons = [
            "thunk to ", "transaction clone for ", "{lambda", "[clone .cold]", "[clone .part", ")::", "TLS ",
        ]
        XCTAssertEqual(unnamed.filter { name in !reasons.contains { name.contains($0) } }, [])
    }
}
