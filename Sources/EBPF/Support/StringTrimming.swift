extension StringProtocol where UTF8View: BidirectionalCollection {
    /// The text without leading and trailing spaces and tabs (kernel files use both).
    /// Scans bytes, not characters: kernel text is ASCII, and grapheme breaking cost more
    /// than the rest of parsing a tracepoint format.
    func trimmingBlanks() -> String {
        let bytes = utf8
        let isBlank: (UInt8) -> Bool = { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
        guard let first = bytes.firstIndex(where: { !isBlank($0) }) else { return "" }
        // Both ends are next to an ASCII blank or the text's end, so on scalar boundaries.
        let end = bytes.index(after: bytes.lastIndex(where: { !isBlank($0) })!)
        return String(self[first..<end])
    }
}
