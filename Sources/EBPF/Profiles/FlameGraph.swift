/// An SVG flame graph, as Brendan Gregg's flamegraph.pl draws one: each frame a box as wide as
/// its samples, children stacked above their caller (or below, `inverted` as an icicle graph),
/// names in the boxes where they fit, each box titled with its name, sample count and share;
/// click a frame to zoom to it, Reset Zoom, Search (a regular expression, matches highlighted
/// and their share shown), all in the SVG's own script, so a browser shows it interactive with
/// nothing else.
///
/// ```swift
/// let stacks = try FoldedStack.parse(folded: String(decoding: data, as: UTF8.self))
/// try FlameGraph(stacks: stacks, title: "CPU").svg.write(to: ...)
/// ```
///
/// The layout is flamegraph.pl's: stacks merge by identical prefix path into frames under a
/// root frame, "all", spanning the whole width; siblings are sorted by name (in code point
/// order, as `sort` orders lines in the C locale), a frame's own samples (stacks ending there)
/// on its left, its callees after them; a frame's box is `count / total × (width − 20)`
/// pixels wide, 16 pixels high, and frames narrower than 0.1 pixel are left out (their samples
/// still count in their caller's width). Colors are flamegraph.pl's "hot" palette, each chosen
/// from a hash of the frame's name, so the same stacks always give the same bytes.
///
/// The script reads `?s=REGEX` (search on load) and `?x=X&y=Y` (zoom on load to the frame
/// drawn at that point) from the page's address, as flamegraph.pl's does, and writes them
/// back as the graph is zoomed and searched. Ctrl-F (or F3) opens the search prompt.
public struct FlameGraph: Sendable {
    /// The SVG document, ready to be written to a `.svg` file.
    public let svg: String
    /// The total of every stack's count (at most `UInt64.max`).
    public let total: UInt64

    /// Draws a flame graph of `stacks`.
    ///
    /// - Parameters:
    ///   - stacks: The profile; identical stacks may repeat (their counts add up).
    ///   - title: The text at the top of the graph.
    ///   - countName: What a count counts, in each frame's title: `hot (900 samples, 90.00%)`.
    ///   - width: The image's width in pixels (at least 200: a smaller width is raised to it).
    ///   - inverted: An icicle graph: the root at the top, callees below their callers.
    public init(
        stacks: [FoldedStack], title: String = "Flame Graph", countName: String = "samples", width: Int = 1200,
        inverted: Bool = false
    ) {
        let tree = FrameTree(stacks)
        total = tree.nodes[0].count
        svg = FlameGraphWriter(
            tree: tree, title: title, countName: countName, width: max(width, 200), inverted: inverted
        ).document()
    }
}

/// Stacks merged by prefix: node 0 is the root, "all".
private struct FrameTree {
    struct Node {
        var name: String
        var count: UInt64 = 0
        var children: [String: Int] = [:]
    }
    var nodes = [Node(name: "all")]

    init(_ stacks: [FoldedStack]) {
        for stack in stacks {
            var node = 0
            nodes[0].count.addSaturating(stack.count)
            for frame in stack.frames {
                let next: Int
                if let child = nodes[node].children[frame] {
                    next = child
                } else {
                    next = nodes.count
                    nodes.append(Node(name: frame))
                    nodes[node].children[frame] = next
                }
                nodes[next].count.addSaturating(stack.count)
                node = next
            }
        }
    }

    /// The node's children, sorted by name: `String`'s `<`, code point order for names in
    /// Unicode's canonical composition (NFC), as `sort` orders lines in the C locale.
    func sortedChildren(of node: Int) -> [Int] {
        let children = nodes[node].children
        if children.count < 2 { return Array(children.values) }
        return children.sorted { $0.key < $1.key }.map(\.value)
    }
}

/// Writes the SVG of a ``FrameTree``.
private struct FlameGraphWriter {
    // flamegraph.pl's defaults.
    static let padding = 10.0
    static let frameHeight = 16
    static let fontSize = 12.0
    static let fontWidth = 0.59
    static let minimumWidth = 0.1
    static let topSpace = 36  // fontSize × 3: the title and the buttons
    static let bottomSpace = 34  // fontSize × 2 + 10: the details line

    let tree: FrameTree
    let title: String
    let countName: String
    let width: Int
    let inverted: Bool

    /// A frame to draw: its node, depth (the root 0) and first sample.
    struct Placed {
        var node: Int
        var depth: Int
        var start: UInt64
    }

    /// The frames wide enough to draw, in pre-order (every frame before its callees, which
    /// the script relies on), with their positions in samples.
    func placedFrames() -> [Placed] {
        let total = tree.nodes[0].count
        let scale = total == 0 ? 0 : (Double(width) - 2 * Self.padding) / Double(total)
        var placed: [Placed] = []
        var pending = [Placed(node: 0, depth: 0, start: 0)]
        while let frame = pending.popLast() {
            placed.append(frame)
            let node = tree.nodes[frame.node]
            // Its own samples first, then its callees: flamegraph.pl's order, from sorted lines.
            var start = frame.start
            var childrenCount: UInt64 = 0
            for child in node.children.values { childrenCount.addSaturating(tree.nodes[child].count) }
            start.addSaturating(node.count - min(childrenCount, node.count))
            var children: [Placed] = []
            for child in tree.sortedChildren(of: frame.node) {
                let count = tree.nodes[child].count
                if Double(count) * scale >= Self.minimumWidth {
                    children.append(Placed(node: child, depth: frame.depth + 1, start: start))
                }
                start.addSaturating(count)
            }
            pending.append(contentsOf: children.reversed())
        }
        return placed
    }

    func document() -> String {
        let frames = placedFrames()
        let total = tree.nodes[0].count
        let usable = Double(width) - 2 * Self.padding
        let depths = (frames.map(\.depth).max() ?? 0) + 1
        let height = depths * Self.frameHeight + Self.topSpace + Self.bottomSpace
        var out = ""
        out.reserveCapacity(3000 + frames.count * 260)
        out += """
            <?xml version="1.0" standalone="no"?>
            <svg version="1.1" width="\(width)" height="\(height)" viewBox="0 0 \(width) \(height)" \
            xmlns="http://www.w3.org/2000/svg">
            <defs><linearGradient id="background" y1="0" y2="1" x1="0" x2="0">\
            <stop stop-color="#eeeeee" offset="5%"/><stop stop-color="#eeeeb0" offset="95%"/>\
            </linearGradient></defs>
            <style type="text/css">
            text { font-family:Verdana; font-size:12px; fill:rgb(0,0,0); }
            #title { text-anchor:middle; font-size:17px; }
            #search, #matched { text-anchor:end; }
            #search { opacity:0.1; cursor:pointer; }
            #search:hover, #search.show { opacity:1; }
            #unzoom { cursor:pointer; }
            #frames > *:hover { stroke:black; stroke-width:0.5; cursor:pointer; }
            .hide { display:none; }
            .parent { opacity:0.5; }
            </style>
            <rect x="0" y="0" width="\(width)" height="\(height)" fill="url(#background)"/>
            <text id="title" x="\(Double(width) / 2)" y="24">
            """
        out.appendEscaped(title)
        let bottomLine = height - Self.bottomSpace / 2
        let right = Double(width) - Self.padding
        out += """
            </text>
            <text id="details" x="\(Self.padding)" y="\(bottomLine)"> </text>
            <text id="unzoom" x="\(Self.padding)" y="24" class="hide">Reset Zoom</text>
            <text id="search" x="\(right)" y="24">Search</text>
            <text id="matched" x="\(right)" y="\(bottomLine)"> </text>
            <g id="frames" data-count-name="
            """
        out.appendEscaped(countName)
        out += "\">\n"
        // Each name escaped and colored once, however many frames it names.
        var drawnNames: [String: (escaped: String, color: String)] = [:]
        for frame in frames {
            let node = tree.nodes[frame.node]
            let drawn: (escaped: String, color: String)
            if let known = drawnNames[node.name] {
                drawn = known
            } else {
                var escaped = ""
                escaped.appendEscaped(node.name)
                drawn = (escaped, Self.color(node.name))
                drawnNames[node.name] = drawn
            }
            let x = Self.padding + (total == 0 ? 0 : Double(frame.start) * usable / Double(total))
            let boxWidth = total == 0 ? usable : Double(node.count) * usable / Double(total)
            let y1 =
                inverted
                ? Self.topSpace + frame.depth * Self.frameHeight
                : height - Self.bottomSpace - (frame.depth + 1) * Self.frameHeight + 1
            let share = total == 0 ? 0 : Double(node.count) * 100 / Double(total)
            out += "<g class=\"func_g\"><title>"
            out += drawn.escaped
            out += " (\(node.count) "
            out.appendEscaped(countName)
            out += ", "
            out += fixed2(share)
            out += "%)</title><rect x=\"\(x)\" y=\"\(y1)\" width=\"\(boxWidth)\" height=\"\(Self.frameHeight - 1)\" "
            out += "fill=\"\(drawn.color)\" rx=\"2\" ry=\"2\"/>"
            out += "<text x=\"\(x + 3)\" y=\"\(Double(y1) + 10.5)\">"
            Self.appendLabel(node.name, escaped: drawn.escaped, width: boxWidth, to: &out)
            out += "</text></g>\n"
        }
        out += "</g>\n<script type=\"text/ecmascript\"><![CDATA[\n"
        out += flameGraphScript
        out += "]]></script>\n</svg>\n"
        return out
    }

    /// Appends the name as the box shows it: whole if it fits (at about 0.59 × the font size
    /// a character), cut with ".." if not, nothing in a box narrower than 3 characters.
    static func appendLabel(_ name: String, escaped: String, width: Double, to out: inout String) {
        let characters = Int(width / (fontSize * fontWidth))
        guard characters >= 3 else { return }
        // UTF-8 bytes are at least as many as scalars, and cheaper to count.
        let scalars = name.unicodeScalars
        guard name.utf8.count > characters, scalars.count > characters else {
            out += escaped
            return
        }
        let end = scalars.index(scalars.startIndex, offsetBy: characters - 2)
        out.appendEscaped(Substring(scalars[..<end]))
        out += ".."
    }

    /// flamegraph.pl's "hot" palette (red 205–255, green 0–230, blue 0–55), each component
    /// from bits of the name's 64-bit FNV-1a hash: the same name, the same color.
    static func color(_ name: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in name.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        let v1 = Double(hash & 0xffff) / 65535
        let v2 = Double((hash >> 16) & 0xffff) / 65535
        let v3 = Double((hash >> 32) & 0xffff) / 65535
        return "rgb(\(205 + Int(50 * v3)),\(Int(230 * v1)),\(Int(55 * v2)))"
    }

    /// The value with two decimals, rounded half away from zero.
    func fixed2(_ value: Double) -> String {
        let hundredths = Int((value * 100).rounded())
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }
}

extension String {
    /// Appends `text` as XML character data or attribute text: `<`, `>`, `&`, `"` and `'`
    /// escaped, tabs and line breaks made spaces, and the characters XML 1.0 does not allow
    /// (other control characters, U+FFFE, U+FFFF) made U+FFFD, so the document stays
    /// well-formed whatever the names hold (`>` escaped also means no `]]>`).
    fileprivate mutating func appendEscaped(_ text: some StringProtocol) {
        let needsWork = text.utf8.contains { byte in
            byte < 0x20 || byte == UInt8(ascii: "<") || byte == UInt8(ascii: ">") || byte == UInt8(ascii: "&")
                || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'") || byte == 0xEF
        }
        guard needsWork else {
            self += text
            return
        }
        for scalar in text.unicodeScalars {
            switch scalar {
            case "<": self += "&lt;"
            case ">": self += "&gt;"
            case "&": self += "&amp;"
            case "\"": self += "&quot;"
            case "'": self += "&apos;"
            case "\t", "\n", "\r": self += " "
            case "\u{0}"..."\u{1F}", "\u{FFFE}", "\u{FFFF}": self.unicodeScalars.append("\u{FFFD}")
            default: self.unicodeScalars.append(scalar)
            }
        }
    }
}

/// The graph's script: zoom, Reset Zoom, Search and the details line, over the frames as
/// ``FlameGraphWriter`` lays them out (pre-order, each title `NAME (N COUNTNAME, P%)`). It
/// holds no name: names are read from the titles, so nothing here depends on the profile.
private let flameGraphScript = #"""
    (function () {
    "use strict";
    var group = document.getElementById("frames");
    var details = document.getElementById("details");
    var unzoomButton = document.getElementById("unzoom");
    var searchButton = document.getElementById("search");
    var matchedText = document.getElementById("matched");
    var countName = group.getAttribute("data-count-name");
    var charWidth = 12 * 0.59;
    var frames = [];
    var zoomed = -1;
    var searching = null;

    function element(parent, tag) { return parent.getElementsByTagName(tag)[0]; }

    // "NAME (N COUNTNAME, P%)": P holds no ", " and N no " (", so the last of each bounds them.
    function parseTitle(title) {
        var rest = title.slice(0, title.lastIndexOf(", "));
        rest = rest.slice(0, rest.length - countName.length - 1);
        var open = rest.lastIndexOf(" (");
        return { name: rest.slice(0, open), samples: Number(rest.slice(open + 2)) };
    }

    // The frames in document order, which is pre-order: each frame's callees follow it, up to
    // its subtree's last frame, `end`. The depth is the distance in rows from the root.
    var open = [], indexOf = new Map();
    for (var i = 0; i < group.children.length; i++) {
        var g = group.children[i], rect = element(g, "rect"), text = element(g, "text");
        var parsed = parseTitle(element(g, "title").textContent);
        var y = Number(rect.getAttribute("y"));
        var depth = i === 0 ? 0 : Math.round(Math.abs(y - frames[0].y) / 16);
        while (open.length > depth) open.pop();
        frames.push({
            g: g, rect: rect, text: text, name: parsed.name, samples: parsed.samples, y: y,
            x: Number(rect.getAttribute("x")), width: Number(rect.getAttribute("width")),
            fill: rect.getAttribute("fill"), label: text.textContent,
            parent: open.length > 0 ? open[open.length - 1] : -1, end: i
        });
        open.push(i);
        indexOf.set(g, i);
    }
    for (var j = frames.length - 1; j > 0; j--) {
        var parent = frames[frames[j].parent];
        parent.end = Math.max(parent.end, frames[j].end);
    }

    // The name cut to fit the width, as the SVG was written: about 0.59 x 12px a character.
    function fit(name, width) {
        var characters = Math.floor(width / charWidth);
        if (characters < 3) return "";
        var scalars = Array.from(name);
        return scalars.length > characters ? scalars.slice(0, characters - 2).join("") + ".." : name;
    }

    function place(frame, x, width, label) {
        frame.rect.setAttribute("x", x);
        frame.rect.setAttribute("width", width);
        frame.text.setAttribute("x", x + 3);
        frame.text.textContent = label === undefined ? fit(frame.name, width) : label;
    }

    function updateAddress() {
        try {
            var query = new URLSearchParams(location.search);
            ["x", "y", "s"].forEach(function (key) { query.delete(key); });
            if (zoomed > 0) {
                query.set("x", frames[zoomed].x);
                query.set("y", frames[zoomed].y);
            }
            if (searching !== null) query.set("s", searching);
            var text = query.toString();
            history.replaceState(null, "", location.pathname + (text ? "?" + text : "") + location.hash);
        } catch (error) {
            // An address that cannot change (a file opened in some browsers): the graph works anyway.
        }
    }

    // The frame and its callees fill the width; its callers span it, faded; the rest hide.
    function zoom(index) {
        if (index <= 0) { unzoom(); return; }
        var target = frames[index], left = frames[0].x, full = frames[0].width;
        var scale = full / target.width;
        frames.forEach(function (frame, i) {
            frame.g.classList.remove("parent");
            if (i >= index && i <= target.end) {
                frame.g.classList.remove("hide");
                place(frame, left + (frame.x - target.x) * scale, frame.width * scale);
            } else {
                frame.g.classList.add("hide");
            }
        });
        for (var p = target.parent; p >= 0; p = frames[p].parent) {
            frames[p].g.classList.remove("hide");
            frames[p].g.classList.add("parent");
            place(frames[p], left, full);
        }
        zoomed = index;
        unzoomButton.classList.remove("hide");
        updateAddress();
    }

    function unzoom() {
        frames.forEach(function (frame) {
            frame.g.classList.remove("parent", "hide");
            place(frame, frame.x, frame.width, frame.label);
        });
        zoomed = -1;
        unzoomButton.classList.add("hide");
        updateAddress();
    }

    function clearHighlights() {
        frames.forEach(function (frame) { frame.rect.setAttribute("fill", frame.fill); });
    }

    // Highlights the frames whose names match; the share counts each matched subtree once.
    function search(term) {
        var pattern;
        try {
            pattern = new RegExp(term);
        } catch (error) {
            matchedText.textContent = "Not a regular expression: " + term;
            return;
        }
        clearHighlights();
        var matched = 0, covered = 0;
        for (var i = 1; i < frames.length; i++) {
            if (!pattern.test(frames[i].name)) continue;
            frames[i].rect.setAttribute("fill", "rgb(230,0,230)");
            if (i > covered) {
                matched += frames[i].samples;
                covered = frames[i].end;
            }
        }
        var total = frames[0].samples;
        searching = term;
        searchButton.classList.add("show");
        searchButton.textContent = "Reset Search";
        matchedText.textContent = "Matched: " + (total > 0 ? 100 * matched / total : 0).toFixed(2) + "%";
        updateAddress();
    }

    function resetSearch() {
        clearHighlights();
        searching = null;
        searchButton.classList.remove("show");
        searchButton.textContent = "Search";
        matchedText.textContent = " ";
        updateAddress();
    }

    function searchPrompt() {
        var term = window.prompt("Search for frames (a regular expression, e.g. ^ext4_)", searching || "");
        if (term) search(term);
    }

    function frameIndex(node) {
        while (node && node.parentNode !== group) node = node.parentNode;
        return node && indexOf.has(node) ? indexOf.get(node) : -1;
    }

    group.addEventListener("click", function (event) {
        var index = frameIndex(event.target);
        if (index >= 0) zoom(index);
    });
    group.addEventListener("mouseover", function (event) {
        var index = frameIndex(event.target);
        if (index >= 0) details.textContent = "Function: " + element(frames[index].g, "title").textContent;
    });
    group.addEventListener("mouseout", function () { details.textContent = " "; });
    unzoomButton.addEventListener("click", unzoom);
    searchButton.addEventListener("click", function () {
        if (searching !== null) resetSearch(); else searchPrompt();
    });
    window.addEventListener("keydown", function (event) {
        if (event.key === "F3" || ((event.ctrlKey || event.metaKey) && (event.key === "f" || event.key === "F"))) {
            event.preventDefault();
            searchPrompt();
        }
    });

    // flamegraph.pl's addresses: ?x=X&y=Y zooms to the frame drawn there, ?s=REGEX searches.
    var address = new URLSearchParams(location.search);
    if (address.has("x") && address.has("y")) {
        var pointX = Number(address.get("x")), pointY = Number(address.get("y"));
        for (var k = 0; k < frames.length; k++) {
            var frame = frames[k];
            if (pointX >= frame.x && pointX < frame.x + frame.width && pointY >= frame.y && pointY < frame.y + 16) {
                zoom(k);
                break;
            }
        }
    }
    if (address.get("s")) search(address.get("s"));
    })();

    """#
