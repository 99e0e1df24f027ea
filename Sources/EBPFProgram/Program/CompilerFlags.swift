import EBPFKernel

/// The compiler flags a program may pass to libbcc's clang: those that only shape how the
/// program text is read. Flags that make clang read a file (`-include`), load code
/// (`-fplugin=`, `-Xclang -load`) or pass options through (`-Wp,`) would do so as root, and
/// clang quotes what it reads in its diagnostics.
package enum CompilerFlags {
    /// Throws ``EBPFError/Code/invalidArgument`` for the first flag outside `-D<macro>[=value]`,
    /// `-U<macro>`, `-I<directory>`, `-W<warning>` and `-w`.
    package static func validate(_ flags: [String]) throws(EBPFError) {
        for flag in flags where !isAllowed(flag) {
            throw EBPFError(
                .invalidArgument,
                "the compiler flag \(NameValidation.quoted(flag)) is not accepted: only -D<macro>[=value], -U<macro>, -I<directory>, -W<warning> and -w are passed to clang (each as one string, e.g. \"-DMAX=16\"); put anything else in the program text"
            )
        }
    }

    private static func isAllowed(_ flag: String) -> Bool {
        let bytes = Array(flag.utf8)
        guard !bytes.contains(where: { $0 < 0x20 || $0 == 0x7F }) else { return false }
        if flag == "-w" { return true }
        guard bytes.count > 2, bytes[0] == UInt8(ascii: "-") else { return false }
        let rest = String(decoding: bytes[2...], as: UTF8.self)
        switch bytes[1] {
        case UInt8(ascii: "D"):
            // The macro's name must be an identifier; its value is program text.
            return NameValidation.isIdentifier(String(rest.prefix { $0 != "=" }))
        case UInt8(ascii: "U"):
            return NameValidation.isIdentifier(rest)
        case UInt8(ascii: "I"):
            return true  // A directory searched by the program's own #include lines.
        case UInt8(ascii: "W"):
            // A warning name such as no-unused-value or error=format; never -Wp, -Wa, -Wl.
            return NameValidation.isIdentifier(rest.replacing("-", with: "_").replacing("=", with: "_"))
        default:
            return false
        }
    }
}
