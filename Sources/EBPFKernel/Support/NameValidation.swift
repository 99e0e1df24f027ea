/// Checks on names that the library puts into C text, tracefs paths or kernel event names.
///
/// Every name from a caller passes one of these before it is used, so a name can never
/// smuggle C code (`"bind; }"`), a path (`"../../x"`) or a second tracefs command into
/// what the library builds.
package enum NameValidation {
    /// The longest name accepted; kernel symbols and tracepoint names are far shorter.
    package static let maximumLength = 128

    /// A C identifier: `[A-Za-z_][A-Za-z0-9_]*`. For function and table names, syscall names
    /// and field names.
    package static func identifier(_ name: String, what: String) throws(EBPFError) {
        try check(name, what: what, example: "sys_enter_bind") { index, byte in
            isLetter(byte) || byte == UInt8(ascii: "_") || (index > 0 && isDigit(byte))
        }
    }

    /// Whether `name` is a C identifier of at most ``maximumLength`` bytes.
    package static func isIdentifier(_ name: String) -> Bool {
        (try? identifier(name, what: "name")) != nil
    }

    /// A tracepoint category or event name as tracefs lists them: `[A-Za-z0-9_]+`
    /// (categories such as `9p` start with a digit).
    package static func tracepointComponent(_ name: String, what: String) throws(EBPFError) {
        try check(name, what: what, example: "syscalls") { _, byte in
            isLetter(byte) || isDigit(byte) || byte == UInt8(ascii: "_")
        }
    }

    /// A kernel or ELF symbol: an identifier that may also hold `.` (`foo.isra.0`), and for
    /// C++ and versioned symbols `$` and `@`.
    package static func symbol(_ name: String, what: String) throws(EBPFError) {
        try check(name, what: what, example: "__x64_sys_bind") { index, byte in
            if isLetter(byte) || byte == UInt8(ascii: "_") { return true }
            guard index > 0 else { return false }
            return isDigit(byte) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "$")
                || byte == UInt8(ascii: "@")
        }
    }

    /// A file path or library name for uprobes: no control characters, no space, no `..`
    /// component.
    package static func binaryPath(_ path: String) throws(EBPFError) {
        guard !path.isEmpty, path.utf8.count <= 4096 else {
            throw EBPFError(.invalidArgument, "the binary path is empty or longer than 4096 bytes")
        }
        if path.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) {
            throw EBPFError(
                .invalidArgument,
                "the binary path \(quoted(path)) contains control characters; pass a plain path such as /usr/bin/bash or a library name such as \"c\""
            )
        }
        if path.utf8.contains(UInt8(ascii: " ")) {
            throw EBPFError(
                .invalidArgument,
                "the binary path \(quoted(path)) contains a space, which kernels without the uprobe PMU read as the end of the path; link or copy the binary to a path without one"
            )
        }
        if path.split(separator: "/", omittingEmptySubsequences: false).contains("..") {
            throw EBPFError(
                .invalidArgument,
                "the binary path \(quoted(path)) contains a '..' component; pass the resolved absolute path"
            )
        }
    }

    /// A user-space function as a caller chooses it (`FunctionSelection`): a symbol
    /// (`$s4main3fooyyF`, `_ZN3foo3barEv`), a Swift name (`MyService.Server.handle(request:)`,
    /// `static Server.make()`), a shell pattern (`handle*`) or a `/regex/`
    /// (`/^Server\.(a|b)/`). At most 4096 bytes, and no control characters, quotes or
    /// backticks; a backslash only inside a `/regex/`, and a `/` only around one.
    package static func userFunction(_ text: String) throws(EBPFError) {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty, bytes.count <= 4096 else {
            throw EBPFError(
                .invalidArgument,
                "the function name is empty or longer than 4096 bytes; pass a symbol, a Swift name such as Server.handle(request:), a pattern such as handle* or a /regex/"
            )
        }
        let slash = UInt8(ascii: "/")
        let isRegex = bytes.count >= 2 && bytes.first == slash && bytes.last == slash
        if isRegex && bytes.count == 2 {
            throw EBPFError(.invalidArgument, "the function regex // is empty; write one such as /^Server\\./")
        }
        for (offset, byte) in bytes.enumerated() {
            let isDelimiter = isRegex && (offset == 0 || offset == bytes.count - 1)
            let problem: String
            switch byte {
            case 0..<0x20, 0x7F, UInt8(ascii: "\""), UInt8(ascii: "'"), UInt8(ascii: "`"):
                problem = describe(byte)
            case UInt8(ascii: "\\") where !isRegex:
                problem = "a backslash, which only a /regex/ may hold"
            case slash where !isDelimiter:
                problem = isRegex ? "'/' inside the /regex/" : "'/', which may only enclose a /regex/"
            default:
                continue
            }
            throw EBPFError(
                .invalidArgument,
                "the function name \(quoted(text)) contains \(problem) at offset \(offset); pass a symbol, a Swift name such as Server.handle(request:), a pattern such as handle* or a /regex/"
            )
        }
    }

    /// A network interface name as the kernel accepts one (`dev_valid_name`): 1 to 15
    /// printable ASCII bytes, no `/`, `:` or space, not `.` or `..`; and no `?`, which an
    /// attach point's text uses for its options.
    package static func interfaceName(_ name: String) throws(EBPFError) {
        let bytes = Array(name.utf8)
        guard (1...15).contains(bytes.count), name != ".", name != "..",
            bytes.allSatisfy({
                $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "/") && $0 != UInt8(ascii: ":") && $0 != UInt8(ascii: "?")
            })
        else {
            throw EBPFError(
                .invalidArgument,
                "\(quoted(name)) is not a network interface name: 1 to 15 printable bytes without '/', ':', '?' or spaces, such as eth0 (`ip link` lists them)"
            )
        }
    }

    /// A cgroup's path: starting with `/`, of printable bytes but `?` (an attach point's
    /// options), no empty, `.` or `..` component (the root `/` itself allowed).
    package static func cgroupPath(_ path: String) throws(EBPFError) {
        let components = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        guard path.hasPrefix("/"), path.utf8.count <= 4096,
            !path.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F || $0 == UInt8(ascii: "?") }),
            path == "/" || !components.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." })
        else {
            throw EBPFError(
                .invalidArgument,
                "cgroup path \(quoted(path)) must start with / and name a cgroup without '.', '..', empty components, '?' or control characters, e.g. /system.slice/nginx.service"
            )
        }
    }

    private static func check(
        _ name: String, what: String, example: String,
        allowed: (Int, UInt8) -> Bool
    ) throws(EBPFError) {
        let bytes = Array(name.utf8)
        guard !bytes.isEmpty else {
            throw EBPFError(.invalidArgument, "the \(what) is empty; pass a name such as \(example)")
        }
        guard bytes.count <= maximumLength else {
            throw EBPFError(
                .invalidArgument,
                "the \(what) is \(bytes.count) bytes long; at most \(maximumLength) are accepted")
        }
        for (index, byte) in bytes.enumerated() where !allowed(index, byte) {
            throw EBPFError(
                .invalidArgument,
                "the \(what) \(quoted(name)) contains \(describe(byte)) at offset \(index); it must be a plain name such as \(example) (letters, digits and underscores)"
            )
        }
    }

    /// An ASCII letter.
    package static func isLetter(_ byte: UInt8) -> Bool {
        (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
    }

    /// An ASCII digit.
    package static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

    private static func describe(_ byte: UInt8) -> String {
        switch byte {
        case 0x20: return "a space"
        case 0..<0x20, 0x7F: return "a control character (0x\(String(byte, radix: 16)))"
        case 0x80...: return "a non-ASCII byte"
        default: return "'\(Character(Unicode.Scalar(byte)))'"
        }
    }

    /// The name as a Swift string literal, so control characters show as escapes.
    package static func quoted(_ name: String) -> String {
        var out = "\""
        for scalar in name.unicodeScalars {
            out += scalar.escaped(asASCII: true)
        }
        return out + "\""
    }
}
