extension StringProtocol where UTF8View: BidirectionalCollection {
    /// The text without leading and trailing spaces and tabs (kernel files use both).
    /// Scans bytes, not characters: kernel text is ASCII, and grapheme breaking cost more
    /// than the rest of parsing a tracepoint format.
    package func trimmingBlanks() -> String {
        let bytes = utf8.trimmingBlankBytes()
        // Both ends are next to an ASCII blank or the text's end, so on scalar boundaries.
        return String(self[bytes.startIndex..<bytes.endIndex])
    }
}

extension BidirectionalCollection<UInt8> {
    /// The bytes without leading and trailing spaces and tabs.
    package func trimmingBlankBytes() -> SubSequence {
        let isBlank = { (byte: UInt8) in byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
        guard let first = firstIndex(where: { !isBlank($0) }), let last = lastIndex(where: { !isBlank($0) }) else {
            return self[endIndex...]
        }
        return self[first...last]
    }
}
