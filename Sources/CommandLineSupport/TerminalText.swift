// Text that traced processes choose (their names, their files' names, their symbols) shown
// without letting them drive the terminal it is printed on.

extension Unicode.Scalar {
    /// Whether a terminal acts on this character instead of showing it: the C0 controls,
    /// DEL, the C1 controls (U+0080–U+009F; U+009B alone starts a control sequence) and the
    /// bidirectional marks, overrides and isolates that reorder the text after them.
    public var isTerminalControl: Bool {
        switch value {
        case 0..<0x20, 0x7F...0x9F, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069: return true
        default: return false
        }
    }
}

extension String {
    /// The string with every terminal control escaped: `\n`, `\t`, `\r`, `\xNN` below
    /// U+0080, `\u{NNNN}` above, and a backslash doubled so an escape cannot be forged.
    /// Any process can name itself `"\e]0;…\a"` with `prctl(PR_SET_NAME)`.
    public var terminalSafe: String {
        escapingTerminalControls { scalar in
            let hex = String(scalar.value, radix: 16)
            return scalar.value < 0x80 ? "\\x" + (hex.count < 2 ? "0" : "") + hex : "\\u{\(hex)}"
        }
    }

    /// The string with a backslash before each backslash and each of `quoted`, `\n`, `\r`
    /// and `\t` spelled so, and every other terminal control spelled by `control`. (`quoted`
    /// is a list, not a set: it holds a character or two, and is checked for every character
    /// of every string a tracer prints, where hashing each one cost more than the rest.)
    public func escapingTerminalControls(
        quoting quoted: [Unicode.Scalar] = [], control: (Unicode.Scalar) -> String
    ) -> String {
        guard unicodeScalars.contains(where: { $0.isTerminalControl || $0 == "\\" || quoted.contains($0) }) else {
            return self
        }
        var out = ""
        for scalar in unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case _ where quoted.contains(scalar): out += "\\" + String(scalar)
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            case _ where scalar.isTerminalControl: out += control(scalar)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
