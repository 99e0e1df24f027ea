import EBPF
import Foundation
import XCTest

/// Folded stacks and the SVG flame graph: merging, layout, escaping, the folded text. The SVG
/// is read back with regular expressions (FoundationXML leaks under LeakSanitizer) and
/// checked well-formed by xmllint.
final class FlameGraphTests: XCTestCase {
    /// A frame as the SVG draws it.
    struct Drawn {
        var name: String
        var count: UInt64
        var share: String
        var x: Double
        var y: Int
        var width: Double
        var label: String
        var fill: String
    }

    /// The frames of `svg`, in document order, their titles and labels unescaped. Read with
    /// NSRegularExpression: a Swift regular expression takes a minute over the 24 MB of the
    /// ten-thousand-stack graph in a debug build.
    static func drawnFrames(_ svg: String, countName: String = "samples") -> [Drawn] {
        let frame = try! NSRegularExpression(
            pattern:
                #"^<g class="func_g"><title>([^<]*?)(?: \((\d+) ([^,]*), (\d+\.\d\d)%\))?</title><rect x="([^"]*)" y="([^"]*)" width="([^"]*)" height="15" fill="([^"]*)" rx="2" ry="2"/><text x="[^"]*" y="[^"]*">([^<]*)</text></g>$"#,
            options: .anchorsMatchLines)
        let text = NSString(string: svg)
        return frame.matches(in: svg, range: NSRange(location: 0, length: text.length)).map { match in
            func group(_ index: Int) -> String? {
                match.range(at: index).location == NSNotFound ? nil : text.substring(with: match.range(at: index))
            }
            XCTAssertEqual(group(3).map(unescaped), countName, group(1) ?? "")
            return Drawn(
                name: unescaped(group(1)!), count: group(2).flatMap { UInt64($0) } ?? 0, share: group(4) ?? "",
                x: Double(group(5)!)!, y: Int(group(6)!)!, width: Double(group(7)!)!, label: unescaped(group(9)!),
                fill: group(8)!)
        }
    }

    static func unescaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&apos;", with: "'")
            .replacingOccurrences(of: "&amp;", with: "&")
    }

    static func frame(_ name: String, in frames: [Drawn], file: StaticString = #filePath, line: UInt = #line) throws
        -> Drawn
    {
        let matching = frames.filter { $0.name == name }
        XCTAssertEqual(matching.count, 1, "frames named \(name)", file: file, line: line)
        return try XCTUnwrap(matching.first, file: file, line: line)
    }

    /// The usable width of the default 1200-pixel graph.
    static let usable = 1180.0

    // MARK: Merging and layout

    func testIdenticalStacksMergeAndPrefixesAreShared() throws {
        let graph = FlameGraph(stacks: [
            FoldedStack(frames: ["main", "a", "x"], count: 3),
            FoldedStack(frames: ["main", "a", "x"], count: 4),
            FoldedStack(frames: ["main", "a", "y"], count: 2),
            FoldedStack(frames: ["main", "b"], count: 1),
        ])
        XCTAssertEqual(graph.total, 10)
        let frames = Self.drawnFrames(graph.svg)
        XCTAssertEqual(frames.map(\.name), ["all", "main", "a", "x", "y", "b"], "pre-order, siblings sorted")
        XCTAssertEqual(frames.map(\.count), [10, 10, 9, 7, 2, 1])
        XCTAssertEqual(try Self.frame("a", in: frames).share, "90.00")
        XCTAssertEqual(try Self.frame("x", in: frames).share, "70.00")
    }

    func testWidthsAndPositionsAreExactlyProportionalToCounts() throws {
        let graph = FlameGraph(stacks: [
            FoldedStack(frames: ["main", "a", "hot"], count: 900),
            FoldedStack(frames: ["main", "a", "cold"], count: 50),
            FoldedStack(frames: ["main", "b"], count: 30),
            FoldedStack(frames: ["main"], count: 13),
            FoldedStack(frames: ["main", "a"], count: 7),
        ])
        XCTAssertEqual(graph.total, 1000)
        let frames = Self.drawnFrames(graph.svg)
        for frame in frames {
            XCTAssertEqual(frame.width, Double(frame.count) * Self.usable / 1000, frame.name)
        }
        let root = try Self.frame("all", in: frames)
        XCTAssertEqual(root.x, 10)
        XCTAssertEqual(root.width, Self.usable, "the root spans the whole width less the padding")
        XCTAssertEqual(root.share, "100.00")
        // A frame's own samples come first (flamegraph.pl's order, from sorted lines), then its
        // callees by name.
        func x(_ name: String) throws -> Double { try Self.frame(name, in: frames).x }
        XCTAssertEqual(try x("main"), 10)
        XCTAssertEqual(try x("a"), 10 + 13 * Self.usable / 1000)
        XCTAssertEqual(try x("cold"), 10 + 20 * Self.usable / 1000)
        XCTAssertEqual(try x("hot"), 10 + 70 * Self.usable / 1000)
        XCTAssertEqual(try x("b"), 10 + 970 * Self.usable / 1000)
        // Rows: 16 pixels apart, the root at the bottom, callees above.
        XCTAssertEqual(try Self.frame("main", in: frames).y, root.y - 16)
        XCTAssertEqual(try Self.frame("hot", in: frames).y, root.y - 48)
        let hot = try Self.frame("hot", in: frames)
        XCTAssertEqual(hot.share, "90.00")
        XCTAssertTrue(graph.svg.contains("<title>hot (900 samples, 90.00%)</title>"))
    }

    func testSiblingsAreSortedByName() throws {
        let names = ["zeta", "alpha", "Mid", "_under", "beta", "alphabet"]
        let graph = FlameGraph(stacks: names.map { FoldedStack(frames: ["main", $0], count: 10) })
        let frames = Self.drawnFrames(graph.svg).filter { names.contains($0.name) }
        let expected = ["Mid", "_under", "alpha", "alphabet", "beta", "zeta"]
        XCTAssertEqual(frames.map(\.name), expected)
        XCTAssertEqual(frames.sorted { $0.x < $1.x }.map(\.name), expected, "left to right")
        let reversed = names.reversed().map { FoldedStack(frames: ["main", $0], count: 10) }
        XCTAssertEqual(FlameGraph(stacks: reversed).svg, graph.svg)
    }

    func testFramesNarrowerThanTheMinimumWidthAreLeftOutButCountInTheirCaller() throws {
        // 0.1 px of 1180 is 84.7… of 1,000,000 samples.
        let graph = FlameGraph(stacks: [
            FoldedStack(frames: ["main", "big"], count: 999_700),
            FoldedStack(frames: ["main", "little", "deeper"], count: 84),
            FoldedStack(frames: ["main", "enough"], count: 85),
            FoldedStack(frames: ["main", "nothing"], count: 0),
            FoldedStack(frames: ["main", "rest"], count: 131),
        ])
        let frames = Self.drawnFrames(graph.svg)
        XCTAssertEqual(frames.map(\.name), ["all", "main", "big", "enough", "rest"])
        let main = try Self.frame("main", in: frames)
        XCTAssertEqual(main.count, 1_000_000)
        XCTAssertEqual(main.width, Self.usable)
        XCTAssertGreaterThanOrEqual(try Self.frame("enough", in: frames).width, 0.1)
        // The space of the left-out frame stays: "rest" starts after it ("little").
        XCTAssertEqual(try Self.frame("rest", in: frames).x, 10 + Double(999_700 + 85 + 84) * Self.usable / 1_000_000)
        // The left-out frame's depth does not count: the graph is 3 rows high.
        XCTAssertTrue(graph.svg.contains("height=\"118\""), "3 rows × 16 + 36 + 34")
    }

    func testInvertedGraphPutsTheRootAtTheTop() throws {
        let stacks = [FoldedStack(frames: ["main", "a"], count: 2)]
        let frames = Self.drawnFrames(FlameGraph(stacks: stacks, inverted: true).svg)
        XCTAssertEqual(frames.map(\.y), [36, 52, 68])
        let upright = Self.drawnFrames(FlameGraph(stacks: stacks).svg)
        XCTAssertEqual(upright.map(\.y), [69, 53, 37])
    }

    func testEmptyProfileDrawsTheRootAlone() {
        for stacks in [[], [FoldedStack(frames: ["main"], count: 0)]] {
            let graph = FlameGraph(stacks: stacks)
            XCTAssertEqual(graph.total, 0)
            let frames = Self.drawnFrames(graph.svg)
            XCTAssertEqual(frames.map(\.name), ["all"])
            XCTAssertEqual(frames.first?.width, Self.usable)
        }
    }

    func testTitleCountNameAndWidth() throws {
        let graph = FlameGraph(
            stacks: [FoldedStack(frames: ["main", "hot"], count: 900), FoldedStack(frames: ["main"], count: 100)],
            title: "Off-CPU", countName: "bytes", width: 600)
        XCTAssertTrue(graph.svg.contains("<title>hot (900 bytes, 90.00%)</title>"))
        XCTAssertTrue(graph.svg.contains(">Off-CPU</text>"))
        XCTAssertTrue(graph.svg.contains("width=\"600\""))
        let hot = try Self.frame("hot", in: Self.drawnFrames(graph.svg, countName: "bytes"))
        XCTAssertEqual(hot.width, 900 * 580 / 1000)
    }

    func testNamesAreCutToFitTheirBoxes() throws {
        let long = "Module.VeryLongTypeName.someFunction(withArgument:andAnother:)"
        let graph = FlameGraph(stacks: [
            FoldedStack(frames: [long], count: 50),  // 590 px: the whole name
            FoldedStack(frames: ["x" + long], count: 4),  // 47.2 px: 6 characters, 4 and ".."
            FoldedStack(frames: ["y" + long], count: 1),  // 11.8 px: 1 character, nothing
            FoldedStack(frames: ["rest"], count: 45),
        ])
        let frames = Self.drawnFrames(graph.svg)
        XCTAssertEqual(try Self.frame(long, in: frames).label, long)
        XCTAssertEqual(try Self.frame("x" + long, in: frames).label, "xMod..")
        XCTAssertEqual(try Self.frame("y" + long, in: frames).label, "")
        XCTAssertEqual(try Self.frame("all", in: frames).label, "all")
    }

    func testColorsAreHotAndTheSameForTheSameInput() throws {
        let stacks = (0..<200).map { FoldedStack(frames: ["main", "function\($0)", "leaf\($0 % 7)"], count: 5) }
        let svg = FlameGraph(stacks: stacks).svg
        XCTAssertEqual(FlameGraph(stacks: stacks.shuffled()).svg, svg, "the same stacks in any order, the same bytes")
        var fills = Set<String>()
        for frame in Self.drawnFrames(svg) {
            let rgb = try XCTUnwrap(frame.fill.wholeMatch(of: #/rgb\((\d+),(\d+),(\d+)\)/#))
            let (red, green, blue) = (Int(rgb.output.1)!, Int(rgb.output.2)!, Int(rgb.output.3)!)
            XCTAssertTrue((205...255).contains(red) && (0...230).contains(green) && (0...55).contains(blue), frame.fill)
            fills.insert(frame.fill)
        }
        XCTAssertGreaterThan(fills.count, 100, "names spread over the palette")
        let leaves = Self.drawnFrames(svg).filter { $0.name == "leaf3" }
        XCTAssertEqual(Set(leaves.map(\.fill)).count, 1, "one name, one color")
    }

    // MARK: Escaping

    static let hostileNames = [
        "Server.handle(request:)", "std::vector<int>::push_back(int const&)", "closure #1 in Foo.bar()",
        "<script>alert(1)</script>", "a]]>b", "]]>", "quote\"s and 'apostrophes'", "&amp; &lt; &#60;",
        "tab\tnew\nline\rreturn", "nul\u{0}bell\u{7}", "not\u{FFFF}chars\u{FFFE}", "<![CDATA[x", "--><!--",
        "émoji 🔥 中文", "-->", "</svg>",
    ]

    func testHostileNamesKeepTheSVGWellFormed() throws {
        let stacks = Self.hostileNames.map { FoldedStack(frames: ["main", $0, $0], count: 10) }
        let svg = FlameGraph(stacks: stacks, title: "<&> ]]> \"title\"", countName: "<sa&mples>").svg
        try Self.assertWellFormed(svg)
        let frames = Self.drawnFrames(svg, countName: "<sa&mples>")
        for name in Self.hostileNames {
            // Line breaks and tabs are drawn as spaces, other characters XML cannot hold as U+FFFD.
            let drawn = String(
                String.UnicodeScalarView(
                    name.unicodeScalars.map { scalar in
                        switch scalar {
                        case "\t", "\n", "\r": " "
                        case "\u{0}"..."\u{1F}", "\u{FFFE}", "\u{FFFF}": "\u{FFFD}"
                        default: scalar
                        }
                    }))
            XCTAssertEqual(frames.filter { $0.name == drawn }.count, 2, name)
        }
        XCTAssertTrue(
            svg.contains("<title>std::vector&lt;int&gt;::push_back(int const&amp;) (10 &lt;sa&amp;mples&gt;, "))
        XCTAssertTrue(svg.contains("<title>closure #1 in Foo.bar() (10 "))
        XCTAssertTrue(svg.contains(">&lt;&amp;&gt; ]]&gt; &quot;title&quot;</text>"))
        XCTAssertTrue(svg.contains("data-count-name=\"&lt;sa&amp;mples&gt;\""))
        // The one `]]>` is the script's own end; no name is inside the script.
        XCTAssertEqual(svg.components(separatedBy: "]]>").count, 2)
        let script = try XCTUnwrap(svg.firstMatch(of: #/<!\[CDATA\[([\s\S]*)\]\]>/#)).output.1
        XCTAssertFalse(script.contains("closure #1"))
    }

    func testScriptIsStandalone() throws {
        let svg = FlameGraph(stacks: [FoldedStack(frames: ["main"], count: 1)]).svg
        try Self.assertWellFormed(svg)
        XCTAssertEqual(svg.matches(of: #/https?:/#).count, 1, "only the SVG namespace: nothing is fetched")
        XCTAssertFalse(svg.contains("href"))
        XCTAssertFalse(svg.contains("src="))
        for part in ["function zoom(", "function unzoom(", "function search(", "Reset Zoom", "Matched: ", "ctrlKey"] {
            XCTAssertTrue(svg.contains(part), part)
        }
        XCTAssertEqual(svg.matches(of: #/<g class="func_g">/#).count, 2)
    }

    /// Checks that every `&` outside the script starts an entity and that xmllint (when
    /// installed) reads the document without an error.
    static func assertWellFormed(_ svg: String, file: StaticString = #filePath, line: UInt = #line) throws {
        for match in svg.replacing(#/<!\[CDATA\[[\s\S]*\]\]>/#, with: "").matches(of: #/&[^;]{0,8};?/#) {
            XCTAssertTrue(
                ["&lt;", "&gt;", "&amp;", "&quot;", "&apos;"].contains(String(match.output)),
                "a bare \(match.output)", file: file, line: line)
        }
        // libxml2-utils: installed by scripts/setup-host.sh and in every guest's root.
        let xmllint = "/usr/bin/xmllint"
        XCTAssertEqual(access(xmllint, X_OK), 0, "xmllint is not installed (libxml2-utils)", file: file, line: line)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("flame-\(getpid())-\(UUID()).svg").path
        try Data(svg.utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        // Fails unless xmllint exits with 0: the document is well-formed XML.
        XCTAssertEqual(try Command.run(xmllint, ["--noout", "--nonet", path]), "", file: file, line: line)
    }

    // MARK: Folded text

    func testFoldedTextMergesSortsAndRoundTrips() throws {
        let stacks = [
            FoldedStack(frames: ["main", "b"], count: 5),
            FoldedStack(frames: ["main", "a", "x"], count: 3),
            FoldedStack(frames: ["main", "b"], count: 2),
            FoldedStack(frames: ["main"], count: 1),
            FoldedStack(frames: ["Server.handle(request:)", "closure #1 in Foo.bar()"], count: 9),
        ]
        let text = FoldedStack.foldedText(stacks)
        XCTAssertEqual(
            text, "Server.handle(request:);closure #1 in Foo.bar() 9\nmain 1\nmain;a;x 3\nmain;b 7\n")
        let parsed = try FoldedStack.parse(folded: text)
        XCTAssertEqual(
            parsed.map(\.frames),
            [["Server.handle(request:)", "closure #1 in Foo.bar()"], ["main"], ["main", "a", "x"], ["main", "b"]])
        XCTAssertEqual(parsed.map(\.count), [9, 1, 3, 7])
        XCTAssertEqual(FoldedStack.foldedText(parsed), text)
        XCTAssertEqual(FlameGraph(stacks: parsed).svg, FlameGraph(stacks: stacks).svg)
    }

    func testSemicolonsAndLineBreaksInFrameNamesAreReplaced() throws {
        let text = FoldedStack.foldedText([
            FoldedStack(frames: ["a;b", "two\nlines\r"], count: 1),
            FoldedStack(frames: ["a:b", "two lines "], count: 2),
        ])
        XCTAssertEqual(text, "a:b;two lines  3\n", "the two stacks are now the same stack")
        let parsed = try FoldedStack.parse(folded: text)
        XCTAssertEqual(parsed, [FoldedStack(frames: ["a:b", "two lines "], count: 3)])
        // A `;` left in a name by the graph is just a character.
        let frames = Self.drawnFrames(FlameGraph(stacks: [FoldedStack(frames: ["a;b"], count: 1)]).svg)
        XCTAssertEqual(frames.map(\.name), ["all", "a;b"])
    }

    func testParseAcceptsFlamegraphInput() throws {
        let text = "main;a 5\r\n\n  \nmain;b\t7\nmain;c 8   \n 4\nstd::map<int, int>::find 0\n"
        let parsed = try FoldedStack.parse(folded: text)
        XCTAssertEqual(
            parsed,
            [
                FoldedStack(frames: ["main", "a"], count: 5), FoldedStack(frames: ["main", "b"], count: 7),
                FoldedStack(frames: ["main", "c"], count: 8), FoldedStack(frames: [], count: 4),
                FoldedStack(frames: ["std::map<int, int>::find"], count: 0),
            ])
        XCTAssertEqual(try FoldedStack.parse(folded: ""), [])
        XCTAssertEqual(
            try FoldedStack.parse(folded: "a 18446744073709551615"), [FoldedStack(frames: ["a"], count: .max)])
    }

    func testParseRefusesLinesWithoutACount() {
        for (text, line) in [
            ("main;a\n", 1), ("main;a 1\n\nmain;b x\n", 3), ("main;a 1.5\n", 1), ("7\n", 1), ("a -3", 1),
            ("a 18446744073709551616", 1), ("ok 1\nmain;a;b", 2),
        ] {
            XCTAssertThrowsError(try FoldedStack.parse(folded: text), text) { error in
                guard let error = error as? EBPFError else { return XCTFail("\(error)") }
                XCTAssertEqual(error.code, .invalidFormat)
                XCTAssertTrue(error.message.hasPrefix("line \(line): "), error.message)
            }
        }
    }

    func testMergedCountsSaturate() throws {
        let stacks = [FoldedStack(frames: ["a"], count: .max), FoldedStack(frames: ["a"], count: 2)]
        XCTAssertEqual(FoldedStack.foldedText(stacks), "a \(UInt64.max)\n")
        XCTAssertEqual(FlameGraph(stacks: stacks).total, .max)
    }

    // MARK: Scale

    /// Ten thousand distinct stacks: every frame wide enough is drawn once, with its merged
    /// count, in pre-order. The time it takes is printed, not asserted: a wall-clock or CPU-time
    /// budget fails on a busy or emulated machine whatever the code does.
    func testTenThousandDistinctStacksDrawEveryFrameWideEnough() throws {
        var generator = SplitMix64(seed: 42)
        let vocabulary = (0..<400).map { "Module\($0 % 13).Type\($0 / 13).method\($0)(argument:)" }
        var stacks: [FoldedStack] = []
        var seen = Set<[String]>()
        while stacks.count < 10_000 {
            let depth = 4 + Int(generator.next() % 28)
            let frames = ["main"] + (0..<depth).map { _ in vocabulary[Int(generator.next() % 400)] }
            guard seen.insert(frames).inserted else { continue }
            stacks.append(FoldedStack(frames: frames, count: 1 + generator.next() % 200))
        }
        // The expected frames, counted here from the stacks alone in a tree of prefixes (node
        // 0 the root): drawn when it and each of its callers are at least 0.1 pixel wide.
        var children: [[String: Int]] = [[:]]
        var counts: [UInt64] = [0]
        var parents: [Int] = [-1]
        for stack in stacks {
            var node = 0
            counts[0] += stack.count
            for frame in stack.frames {
                if let child = children[node][frame] {
                    node = child
                } else {
                    children[node][frame] = counts.count
                    children.append([:])
                    counts.append(0)
                    parents.append(node)
                    node = counts.count - 1
                }
                counts[node] += stack.count
            }
        }
        let scale = Self.usable / Double(counts[0])
        var expected = Set<Int>()
        for node in counts.indices where node == 0 || expected.contains(parents[node]) {
            // Parents come before their children, so a node's caller is already decided.
            if Double(counts[node]) * scale >= 0.1 { expected.insert(node) }
        }

        let started = threadCPUTime()
        let graph = FlameGraph(stacks: stacks)
        let seconds = threadCPUTime() - started
        print("FlameGraphTests: 10,000 distinct stacks: \(graph.svg.utf8.count) bytes in \(seconds) s of CPU")

        XCTAssertEqual(graph.total, counts[0])
        XCTAssertTrue(graph.svg.hasSuffix("</svg>\n"))
        // Pre-order: each frame's depth (from its y) is at most one more than the frame before
        // it, so the path from the root names its node.
        var path: [Int] = []
        var rootY: Int?
        var drawn = Set<Int>()
        for frame in Self.drawnFrames(graph.svg) {
            guard let top = rootY else {
                XCTAssertEqual(frame.name, "all")
                XCTAssertEqual(frame.count, counts[0])
                rootY = frame.y
                path = [0]
                continue
            }
            let depth = (top - frame.y) / 16
            XCTAssertTrue(depth >= 1 && depth <= path.count, "\(frame.name) at depth \(depth) after \(path.count - 1)")
            path.removeLast(path.count - min(max(depth, 1), path.count))
            let node = try XCTUnwrap(children[path.last!][frame.name], "\(frame.name) is not a callee of its caller")
            XCTAssertEqual(frame.count, counts[node], frame.name)
            XCTAssertTrue(drawn.insert(node).inserted, "\(frame.name) drawn twice")
            path.append(node)
        }
        XCTAssertEqual(drawn.count + 1, expected.count, "the root and every frame wide enough, once each")
        let misplaced = drawn.union([0]).symmetricDifference(expected)
        XCTAssertEqual(misplaced.count, 0, "frames drawn but too narrow, or wide enough but left out")
    }

    private func threadCPUTime() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}
