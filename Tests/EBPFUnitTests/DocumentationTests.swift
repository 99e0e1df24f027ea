import Foundation
import XCTest

/// The README's "API at a glance" table and the DocC catalog's topics for `EBPFWrapper` list
/// the same members under the same topics (scripts/check-docs.sh checks the catalog
/// against the code).
final class DocumentationTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    func read(_ path: String) throws -> String {
        try String(contentsOf: Self.root.appendingPathComponent(path), encoding: .utf8)
    }

    static func codeSpans(_ text: Substring, fence: String) -> [String] {
        var spans: [String] = []
        var rest = text[...]
        while let open = rest.range(of: fence), let close = rest[open.upperBound...].range(of: fence) {
            spans.append(String(rest[open.upperBound..<close.lowerBound]))
            rest = rest[close.upperBound...]
        }
        return spans
    }

    /// `### Topic` headings and their `- ``member``` lines.
    func catalogTopics() throws -> [String: [String]] {
        var topics: [String: [String]] = [:]
        var current: String?
        for line in try read("Sources/EBPF/EBPF.docc/EBPFWrapper.md").split(separator: "\n") {
            if line.hasPrefix("### ") {
                current = String(line.dropFirst(4))
                topics[current!] = []
            } else if let topic = current, line.hasPrefix("- ") {
                // An overload's disambiguation (`-(AttachPoint,_,_,_,_)`) is the catalog's alone.
                for span in Self.codeSpans(line, fence: "``") {
                    let member = span.split(separator: "-(").first.map(String.init) ?? span
                    if topics[topic]!.last != member { topics[topic]!.append(member) }
                }
            }
        }
        return topics
    }

    /// The rows of the README's table under "## API at a glance".
    func readmeTopics() throws -> [String: [String]] {
        let readme = try read("README.md")
        let start = try XCTUnwrap(readme.range(of: "## API at a glance\n"))
        let section = readme[start.upperBound...]
        let end = section.range(of: "\n## ")?.lowerBound ?? section.endIndex
        var topics: [String: [String]] = [:]
        for line in section[..<end].split(separator: "\n") where line.hasPrefix("| ") && !line.hasPrefix("| Topic ") {
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count == 2 else { continue }
            topics[cells[0]] = Self.codeSpans(Substring(cells[1]), fence: "`")
        }
        return topics
    }

    func testReadmeAPITableListsTheCatalogsMembers() throws {
        let catalog = try catalogTopics()
        let readme = try readmeTopics()
        XCTAssertEqual(catalog.count, 5, "topics in EBPFWrapper.md")
        XCTAssertEqual(catalog.values.map(\.count).reduce(0, +), 30, "members, with the wrapper kinds")
        XCTAssertEqual(readme, catalog)
    }
}
