@_spi(Generator) @testable import EBPF
import Foundation
import XCTest

/// The flame graph in a real browser: Debian's Chromium, headless, opens the SVG, runs its
/// script and prints the DOM it ends with (`--dump-dom`), which the tests read back.
///
/// On the host only: a browser proves nothing about a kernel, and in kernel-vm.sh's guests
/// (software emulation; Debian 13's root has no Chromium) it would only be slow. Chromium
/// missing is a skip, or a failure when EBPF_REQUIRE_KERNEL_TESTS=1 (scripts/setup-host.sh
/// installs it).
final class FlameGraphBrowserTests: XCTestCase {
    static let hostileName = "<&> \"x\" ]]> 'y'"
    static let stacks = [
        FoldedStack(frames: ["main", "a", "hot"], count: 900),
        FoldedStack(frames: ["main", "a", "cold"], count: 50),
        FoldedStack(frames: ["main", "b"], count: 40),
        FoldedStack(frames: ["main", hostileName], count: 10),
    ]

    func testChromiumDrawsEveryFrameInProportion() throws {
        let dom = try Self.openInChromium(FlameGraph(stacks: Self.stacks).svg)
        XCTAssertFalse(dom.contains("parsererror"), "Chromium read the SVG without an error: \(dom.prefix(2000))")
        let frames = Self.frames(inDOM: dom)
        XCTAssertEqual(frames.map(\.name), ["all", "main", Self.hostileName, "a", "cold", "hot", "b"])
        let hot = try Self.frame("hot", frames)
        XCTAssertEqual(hot.title, "hot (900 samples, 90.00%)")
        XCTAssertEqual(hot.label, "hot")
        XCTAssertEqual(try Self.frame(Self.hostileName, frames).title, "\(Self.hostileName) (10 samples, 1.00%)")
        let full = try Self.frame("all", frames).width
        XCTAssertEqual(full, 1180)
        for (name, count) in [
            ("main", 1000.0), ("a", 950), ("hot", 900), ("cold", 50), ("b", 40), (Self.hostileName, 10),
        ] {
            XCTAssertEqual(try Self.frame(name, frames).width / full, count / 1000, accuracy: 1e-12, name)
        }
        XCTAssertEqual(try Self.frame("cold", frames).x + 50 * 1.18, hot.x, accuracy: 1e-9, "hot follows cold")
    }

    func testSearchFromTheAddressHighlightsTheMatchesAndTheirShare() throws {
        let svg = FlameGraph(stacks: Self.stacks).svg
        let dom = try Self.openInChromium(svg, query: "s=hot")
        let frames = Self.frames(inDOM: dom)
        XCTAssertEqual(try Self.frame("hot", frames).fill, "rgb(230,0,230)")
        XCTAssertEqual(frames.filter { $0.fill == "rgb(230,0,230)" }.map(\.name), ["hot"])
        XCTAssertEqual(Self.text("matched", in: dom), "Matched: 90.00%")
        XCTAssertEqual(Self.text("search", in: dom), "Reset Search")
        // A regular expression (^(a|hot|cold)$); a match inside another match counts once.
        let bothDOM = try Self.openInChromium(svg, query: "s=%5E(a%7Chot%7Ccold)%24")
        let both = Self.frames(inDOM: bothDOM)
        XCTAssertEqual(both.filter { $0.fill == "rgb(230,0,230)" }.map(\.name), ["a", "cold", "hot"])
        XCTAssertEqual(Self.text("matched", in: bothDOM), "Matched: 95.00%")
    }

    func testZoomFromTheAddressFillsTheWidthWithTheFrame() throws {
        let svg = FlameGraph(stacks: Self.stacks).svg
        let a = try Self.frame("a", Self.frames(inDOM: svg))
        let frames = Self.frames(inDOM: try Self.openInChromium(svg, query: "x=\(a.x + 1)&y=\(a.y + 1)"))
        XCTAssertEqual(try Self.frame("a", frames).width, 1180, accuracy: 1e-9)
        XCTAssertEqual(try Self.frame("a", frames).x, 10, accuracy: 1e-9)
        XCTAssertEqual(try Self.frame("hot", frames).width, 1180 * 900 / 950, accuracy: 1e-9)
        XCTAssertEqual(try Self.frame("cold", frames).x, 10, accuracy: 1e-9)
        XCTAssertEqual(try Self.frame("hot", frames).x, 10 + 1180 * 50 / 950, accuracy: 1e-9)
        XCTAssertTrue(try Self.frame("b", frames).classes.contains("hide"))
        XCTAssertTrue(try Self.frame(Self.hostileName, frames).classes.contains("hide"))
        XCTAssertTrue(try Self.frame("main", frames).classes.contains("parent"))
        XCTAssertEqual(try Self.frame("main", frames).width, 1180)
    }

    /// The graph inline in a page whose own script clicks a frame, Reset Zoom, presses Ctrl-F
    /// (answering the prompt) and Reset Search, noting what each did.
    func testClicksAndCtrlFInAPage() throws {
        let svg = FlameGraph(stacks: Self.stacks).svg
        let inline = String(svg[try XCTUnwrap(svg.range(of: "<svg ")).lowerBound...])
        let page = """
            <!DOCTYPE html>
            <html><body>
            \(inline)
            <pre id="result"></pre>
            <script>
            (function () {
                var notes = [];
                function frame(name) {
                    return Array.from(document.getElementById("frames").children).find(function (g) {
                        return g.querySelector("title").textContent.startsWith(name + " (");
                    });
                }
                function note(key, value) { notes.push(key + "=" + value); }
                function width(name) { return frame(name).querySelector("rect").getAttribute("width"); }
                function click(element) { element.dispatchEvent(new MouseEvent("click", { bubbles: true })); }
                click(frame("a").querySelector("rect"));
                note("zoomed.a", width("a"));
                note("zoomed.hot", width("hot"));
                note("zoomed.b", frame("b").getAttribute("class"));
                note("zoomed.button", document.getElementById("unzoom").getAttribute("class"));
                click(document.getElementById("unzoom"));
                note("unzoomed.a", width("a"));
                note("unzoomed.b", frame("b").getAttribute("class"));
                note("unzoomed.label", frame("hot").querySelector("text").textContent);
                note("unzoomed.button", document.getElementById("unzoom").getAttribute("class"));
                window.prompt = function () { return "^cold$"; };
                window.dispatchEvent(new KeyboardEvent("keydown", { key: "f", ctrlKey: true, bubbles: true }));
                note("searched.matched", document.getElementById("matched").textContent);
                note("searched.cold", frame("cold").querySelector("rect").getAttribute("fill"));
                click(document.getElementById("search"));
                note("reset.matched", document.getElementById("matched").textContent);
                note("reset.cold", frame("cold").querySelector("rect").getAttribute("fill"));
                note("reset.button", document.getElementById("search").textContent);
                document.getElementById("result").textContent = notes.join("\\n");
            })();
            </script>
            </body></html>
            """
        let dom = try Self.openInChromium(page, fileExtension: "html")
        let result = try XCTUnwrap(dom.firstMatch(of: #/<pre id="result">([^<]*)</pre>/#)?.output.1, dom)
        var notes: [String: String] = [:]
        for line in result.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
            notes[parts[0]] = parts.count > 1 ? parts[1] : ""
        }
        let coldFill = try Self.frame("cold", Self.frames(inDOM: svg)).fill
        for (key, value) in [("zoomed.a", 1180.0), ("zoomed.hot", 1180.0 * 900 / 950), ("unzoomed.a", 1121)] {
            XCTAssertEqual(Double(notes.removeValue(forKey: key) ?? "") ?? .nan, value, accuracy: 1e-9, key)
        }
        XCTAssertEqual(
            notes,
            [
                "zoomed.b": "func_g hide", "zoomed.button": "", "unzoomed.b": "func_g", "unzoomed.label": "hot",
                "unzoomed.button": "hide", "searched.matched": "Matched: 5.00%", "searched.cold": "rgb(230,0,230)",
                "reset.matched": " ", "reset.cold": coldFill, "reset.button": "Search",
            ])
    }

    /// A real profile's flame graph: this process profiled while threads burn CPU in
    /// `StackFixture.burn`, 0.25 s at a time, until the profile holds 10 samples under it.
    /// Chromium draws the burner's frame with the samples the profile counted under it, as
    /// wide as its share of the samples.
    func testAProfilesHottestFunctionIsDrawnWithItsSampleCount() throws {
        try requireKernel()
        let b = try EBPFWrapper()
        defer { b.close() }
        let profile = try b.profile(frequency: 199, pid: ThisProcess.pid)
        let burn = "EBPFTests.StackFixture.burn(cpuSeconds:)"
        func burnersStacks() throws -> [FoldedStack] {
            try profile.foldedStacks().filter { $0.frames.first == "ebpf-flame" }
        }
        // The samples under the burner's frame, by the path that leads to it: the flame
        // graph draws one frame per path.
        func samplesUnderBurn(_ stacks: [FoldedStack]) -> [[String]: UInt64] {
            var underPath: [[String]: UInt64] = [:]
            for stack in stacks {
                guard let index = stack.frames.firstIndex(of: burn) else { continue }
                underPath[Array(stack.frames[...index]), default: 0] += stack.count
            }
            return underPath
        }
        // Burns until the frame has samples enough to draw: under ThreadSanitizer most land
        // in its runtime, whose frames hide their caller.
        for _ in 0..<40 {
            StackFixture.burnOnThread(named: "ebpf-flame", cpuSeconds: 0.25)
            if (samplesUnderBurn(try burnersStacks()).values.max() ?? 0) >= 10 { break }
        }
        profile.detach()
        let stacks = try burnersStacks()
        let (path, count) = try XCTUnwrap(
            samplesUnderBurn(stacks).max { $0.value < $1.value }, FoldedStack.foldedText(stacks))
        XCTAssertGreaterThanOrEqual(count, 10, FoldedStack.foldedText(stacks))
        let total = stacks.reduce(0) { $0 + $1.count }

        let frames = Self.frames(inDOM: try Self.openInChromium(FlameGraph(stacks: stacks).svg))
        let percent = String(format: "%.2f", Double(count) * 100 / Double(total))
        let drawn = frames.filter { $0.title == "\(burn) (\(count) samples, \(percent)%)" }
        XCTAssertEqual(drawn.count, 1, "one frame for the path \(path): \(frames.map(\.title))")
        let full = try Self.frame("all", frames).width
        XCTAssertEqual(try XCTUnwrap(drawn.first).width / full, Double(count) / Double(total), accuracy: 1e-9)
    }

    // MARK: Chromium

    /// Writes `document` to a file, opens it in headless Chromium with `query` and returns the
    /// DOM Chromium serialized once the page had loaded (its script had run).
    static func openInChromium(_ document: String, fileExtension: String = "svg", query: String = "") throws
        -> String
    {
        let chromium = try chromiumPath()
        let directory = "/tmp/ebpf-flamegraph-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = "\(directory)/graph.\(fileExtension)"
        try Data(document.utf8).write(to: URL(fileURLWithPath: path))
        // --no-sandbox: root cannot run Chromium's sandbox. --disable-gpu: no GPU process to
        // start (a VM has no GPU). A profile of its own: nothing in root's home, no lock shared
        // with another run.
        let arguments = [
            "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=\(directory)/profile", "--dump-dom",
            "file://\(path)" + (query.isEmpty ? "" : "?\(query)"),
        ]
        let started = ContinuousClock.now
        let child = try ChildProcess(chromium, arguments)
        let termination = child.wait(timeout: .seconds(120))
        print(
            "FlameGraphBrowserTests: chromium \(query.isEmpty ? path : "?" + query) took \(ContinuousClock.now - started)"
        )
        XCTAssertEqual(termination, .exited(0), "chromium: \(child.standardError)")
        XCTAssertTrue(
            child.standardOutput.contains("id=\"frames\""), "chromium printed no graph: \(child.standardError)")
        return child.standardOutput
    }

    static func chromiumPath() throws -> String {
        if let guest = ProcessInfo.processInfo.environment["EBPF_KERNEL_VM"] {
            throw XCTSkip("the browser tests run on the host, not in the guest (kernel \(guest))")
        }
        let path = "/usr/bin/chromium"
        guard FileManager.default.isExecutableFile(atPath: path) else {
            let reason = "chromium is not installed: run ./scripts/setup-host.sh (or apt-get install chromium)"
            if KernelTestSupport.required {
                XCTFail(reason)
                throw XCTSkip("failed above")
            }
            throw XCTSkip(reason)
        }
        return path
    }

    // MARK: Reading the DOM

    /// A frame as the DOM holds it.
    struct DOMFrame {
        var title: String
        var classes: String
        var x: Double
        var y: Double
        var width: Double
        var fill: String
        var label: String
        var name: String {
            title.firstMatch(of: #/ \(\d+ samples, \d+\.\d\d%\)$/#).map { String(title[..<$0.range.lowerBound]) }
                ?? title
        }
    }

    /// The frames of an SVG, or of the DOM Chromium printed (XML or HTML serialization: an
    /// empty element may be `<text/>` or `<text></text>`), in document order.
    static func frames(inDOM dom: String) -> [DOMFrame] {
        let frame =
            #/<g class="(func_g[^"]*)"><title>([^<]*)</title><rect ([^>]*?)/?>(?:</rect>)?<text [^>]*?(?:/>|>([^<]*)</text>)/#
        return dom.matches(of: frame).map { match in
            let rect = " " + match.output.3
            func attribute(_ name: String) -> String {
                guard let start = rect.range(of: " \(name)=\"") else { return "" }
                return String(rect[start.upperBound...].prefix { $0 != "\"" })
            }
            return DOMFrame(
                title: unescaped(String(match.output.2)), classes: String(match.output.1),
                x: Double(attribute("x")) ?? .nan, y: Double(attribute("y")) ?? .nan,
                width: Double(attribute("width")) ?? .nan, fill: attribute("fill"),
                label: unescaped(String(match.output.4 ?? "")))
        }
    }

    /// The text of the `<text>` element `id`.
    static func text(_ id: String, in dom: String) -> String? {
        guard let start = dom.range(of: "<text id=\"\(id)\"") else { return nil }
        let rest = dom[start.upperBound...].drop { $0 != ">" }.dropFirst()
        return unescaped(String(rest.prefix { $0 != "<" }))
    }

    static func unescaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&apos;", with: "'")
            .replacingOccurrences(of: "&amp;", with: "&")
    }

    static func frame(_ name: String, _ frames: [DOMFrame], file: StaticString = #filePath, line: UInt = #line)
        throws -> DOMFrame
    {
        let matching = frames.filter { $0.name == name }
        XCTAssertEqual(matching.count, 1, "frames named \(name)", file: file, line: line)
        return try XCTUnwrap(matching.first, "no frame \(name) in \(frames.map(\.name))", file: file, line: line)
    }
}
