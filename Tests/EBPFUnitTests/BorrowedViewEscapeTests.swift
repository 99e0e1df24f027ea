import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// A ``ProbeEventView`` cannot leave its closure: the compiler refuses every way out. The
/// test compiles small programs against the built `EBPF` module with `swiftc`: one that
/// reads a view and copies it out must build, and each escape must fail with the
/// compiler's reason, on its line.
final class BorrowedViewEscapeTests: XCTestCase {
    /// A program using `body` as the closure of `attachBorrowing` (its parameter written as
    /// `parameter`), after `declarations`.
    private func program(declarations: String = "", parameter: String = "event", _ body: String) -> String {
        """
        import EBPF
        \(declarations)
        func trace(_ b: EBPFWrapper<NoProgram>) throws {
            try b.attachBorrowing(.syscall("openat")) { \(parameter) in
                \(body)
            }
        }
        """
    }

    func testReadingAndCopyingOutBuilds() throws {
        let (built, output) = try typeCheck(
            program(
                """
                let name: String = event.processName
                let path = event.filename?.stringValue
                let kept: ProbeEvent = event.copy()
                print(name, path ?? "-", kept.threadID, event["flags"] ?? .unsigned(0), event.fields.count)
                """))
        XCTAssertTrue(built, output)
    }

    func testStoringTheViewDoesNotBuild() throws {
        let closure = "nonisolated(unsafe) var later: (() -> Void)?"
        let escapes: [(what: String, declarations: String, parameter: String, body: String, reason: String?)] = [
            (
                "into a property",
                "final class Box: @unchecked Sendable { var view: ProbeEventView? }\nlet box = Box()",
                "event", "box.view = event", "implicit conversion to 'ProbeEventView?' is consuming"
            ),
            (
                "into a local", "", "event", "let again = event; _ = again.cpu",
                "'event' is borrowed and cannot be consumed"
            ),
            (
                "into an escaping closure", closure, "(event: borrowing ProbeEventView)",
                "later = { print(event.cpu) }",
                "'event' cannot be captured by an escaping closure since it is a borrowed parameter"
            ),
            // Swift 6.3.1's compiler crashes on this one (a closure's inferred borrowed
            // parameter captured by an escaping closure) rather than saying why: it still
            // does not build.
            ("into an escaping closure, parameter inferred", closure, "event", "later = { print(event.cpu) }", nil),
        ]
        for escape in escapes {
            let (built, output) = try typeCheck(
                program(declarations: escape.declarations, parameter: escape.parameter, escape.body))
            XCTAssertFalse(built, "\(escape.what): \(output)")
            if let reason = escape.reason {
                XCTAssertTrue(output.contains("error: \(reason)"), "\(escape.what): \(output)")
            }
        }
    }

    /// `swiftc -emit-sil` of `source` against this build's modules (ownership is checked on
    /// SIL, after type checking): whether it passed, and what the compiler said.
    private func typeCheck(_ source: String) throws -> (Bool, String) {
        let swiftc = try XCTUnwrap(Command.find("swiftc", resolvingLinks: false), "swiftc is not on PATH")
        let file = try Command.temporaryFile(source, suffix: ".swift")
        defer { unlink(file) }
        var template = Array("/tmp/ebpf-unit-modules-XXXXXX".utf8CString)
        let cache = try XCTUnwrap(
            template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!).map { String(cString: $0) } })
        defer { _ = try? Command.run("/bin/rm", ["-rf", cache]) }
        // The test binary sits in the build's products, beside its Modules directory.
        let executable = try XCTUnwrap(realpath("/proc/self/exe", nil))
        defer { free(executable) }
        let products = String(cString: executable).split(separator: "/").dropLast().joined(separator: "/")
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        let bccHeaders = try Command.run("/usr/bin/pkg-config", ["--cflags-only-I", "libbcc"])
            .split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
        return try Command.outcome(
            swiftc,
            [
                "-emit-sil", "-o", "/dev/null", "-swift-version", "6", "-module-cache-path", cache, "-I",
                "/\(products)/Modules",
            ]
                + ["-I", "\(root)/Sources/CBCC", "-I", "\(root)/Sources/CKernelABI"]
                + bccHeaders.flatMap { ["-Xcc", $0] } + [file])
    }
}
