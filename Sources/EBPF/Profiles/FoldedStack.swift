import EBPFKernel

/// A stack and how many times it was seen: one line of bcc's `profile -f` / flamegraph.pl's input.
///
/// ```swift
/// let stacks = [
///     FoldedStack(frames: ["main", "parse", "lex"], count: 90),
///     FoldedStack(frames: ["main", "render"], count: 10),
/// ]
/// let text = FoldedStack.foldedText(stacks)  // "main;parse;lex 90\nmain;render 10\n"
/// let svg = FlameGraph(stacks: stacks).svg
/// ```
public struct FoldedStack: Sendable, Hashable {
    /// Frames from the outermost (the thread's entry, or the process name when one is prepended) to the innermost.
    public var frames: [String]
    /// How many times the stack was seen (samples, or whatever the profile counts).
    public var count: UInt64

    public init(frames: [String], count: UInt64) {
        self.frames = frames
        self.count = count
    }
}

extension FoldedStack {
    /// Lines `frame;frame;frame count`, as flamegraph.pl reads them, identical stacks merged
    /// (their counts added), sorted by text (in code point order, as stackcollapse output
    /// is), each line ended by a newline.
    ///
    /// A `;` inside a frame name becomes `:`, and a newline or carriage return a space, so a
    /// line always splits back into the same frames; stacks that differ only there merge.
    /// A count that would pass `UInt64.max` stays at `UInt64.max`.
    public static func foldedText(_ stacks: [FoldedStack]) -> String {
        var merged: [String: UInt64] = [:]
        merged.reserveCapacity(stacks.count)
        for stack in stacks {
            let line = stack.frames.map(foldedFrameName).joined(separator: ";")
            merged[line, default: 0].addSaturating(stack.count)
        }
        let lines = merged.sorted { $0.key < $1.key }
        var text = ""
        text.reserveCapacity(lines.reduce(0) { $0 + $1.key.utf8.count + 22 })
        for (stack, count) in lines {
            text += stack
            text += " "
            text += String(count)
            text += "\n"
        }
        return text
    }

    /// Reads folded text back: one stack per line, in the text's order (identical stacks are
    /// not merged), frames split at `;`, the count after the line's last space or tab.
    ///
    /// Lines may end in `\r\n`; blank lines are skipped. A line with no frames (` 5`) is a
    /// stack of no frames.
    ///
    /// - Throws: ``EBPFError/Code/invalidFormat`` for a line that does not end in a count
    ///   (a space and a whole number that fits `UInt64`), naming the line: `line N: ...`.
    public static func parse(folded text: String) throws(EBPFError) -> [FoldedStack] {
        var stacks: [FoldedStack] = []
        let bytes = Array(text.utf8)
        var lineNumber = 0
        for rawLine in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            var line = rawLine
            while let last = line.last, last == UInt8(ascii: " ") || last == UInt8(ascii: "\t") || last == 0x0D {
                line.removeLast()
            }
            guard line.contains(where: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") }) else { continue }
            var digitsStart = line.endIndex
            while digitsStart > line.startIndex, (0x30...0x39).contains(line[digitsStart - 1]) {
                digitsStart -= 1
            }
            let separator = digitsStart - 1
            guard digitsStart < line.endIndex, separator >= line.startIndex,
                line[separator] == UInt8(ascii: " ") || line[separator] == UInt8(ascii: "\t")
            else {
                throw malformed(
                    lineNumber, line,
                    "does not end in a count: a folded stack is 'frame;frame;frame count', frames outermost first")
            }
            var count: UInt64 = 0
            for digit in line[digitsStart...] {
                let (times10, overflow) = count.multipliedReportingOverflow(by: 10)
                let (sum, carry) = times10.addingReportingOverflow(UInt64(digit - 0x30))
                guard !overflow, !carry else {
                    throw malformed(lineNumber, line, "has a count larger than \(UInt64.max)")
                }
                count = sum
            }
            let stack = line[line.startIndex..<separator]
            let frames =
                stack.isEmpty
                ? []
                : stack.split(separator: UInt8(ascii: ";"), omittingEmptySubsequences: false).map {
                    String(decoding: $0, as: UTF8.self)
                }
            stacks.append(FoldedStack(frames: frames, count: count))
        }
        return stacks
    }

    /// The name with `;` made `:` and line breaks made spaces.
    static func foldedFrameName(_ name: String) -> String {
        guard name.utf8.contains(where: { $0 == UInt8(ascii: ";") || $0 == 0x0A || $0 == 0x0D }) else { return name }
        var scalars = String.UnicodeScalarView()
        for scalar in name.unicodeScalars {
            switch scalar {
            case ";": scalars.append(":")
            case "\n", "\r": scalars.append(" ")
            default: scalars.append(scalar)
            }
        }
        return String(scalars)
    }

    private static func malformed(_ lineNumber: Int, _ line: ArraySlice<UInt8>, _ why: String) -> EBPFError {
        let text = String(decoding: line.prefix(200), as: UTF8.self)
        return EBPFError(
            .invalidFormat, "line \(lineNumber): \(NameValidation.quoted(text))\(line.count > 200 ? "…" : "") \(why)")
    }
}

extension UInt64 {
    /// Adds, stopping at `UInt64.max` instead of trapping.
    mutating func addSaturating(_ other: UInt64) {
        let (sum, overflow) = addingReportingOverflow(other)
        self = overflow ? .max : sum
    }
}
