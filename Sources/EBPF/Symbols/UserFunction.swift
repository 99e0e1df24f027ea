import EBPFKernel
import EBPFProgram

/// A function of an executable or library, as a uprobe names it: what
/// `bpftrace -l 'uprobe:BINARY:*'` lists, with Swift and C++ names demangled.
public struct UserFunction: Sendable, Hashable, CustomStringConvertible {
    /// Its name as people write it: a Swift function's qualified name with its argument
    /// labels (`MyService.Server.handle(request:)`), a C++ function's demangled name
    /// without a template's return type (`ns::Counter::add(long, long) const`), else its
    /// symbol.
    public let name: String
    /// Its symbol as the file spells it (`$s9MyService6ServerV6handle7requestS2i_tF`, `malloc`).
    public let symbol: String
    /// Its address in the file (the symbol's value).
    public let address: UInt64

    public var description: String { name }

    /// The functions of `binary` that `pattern` names, by address, one per address: a
    /// shell pattern (`"Server.*"`, `"ns::Counter::*"`), a `/regular expression/`, a Swift
    /// or C++ name or a symbol, as
    /// ``AttachPoint/uprobe(_:in:offset:pid:)`` reads it, without its bound of 512.
    ///
    /// - Parameters:
    ///   - binary: A path, or a library name as the linker would find it (`"c"`).
    ///   - pattern: What the functions' names or symbols match; every function by default.
    /// - Throws: ``EBPFError/Code/notFound`` for a missing binary,
    ///   ``EBPFError/Code/invalidArgument`` for a name that cannot be one or a regular
    ///   expression that does not compile, ``EBPFError/Code/invalidFormat`` for a file that
    ///   is not a 64-bit ELF file. No function matching is an empty list.
    public static func all(in binary: String, matching pattern: String = "*") throws(EBPFError) -> [UserFunction] {
        try NameValidation.binaryPath(binary)
        try NameValidation.userFunction(pattern)
        let path = try Session.locateBinary(binary, pid: -1)
        let opened = OpenedBinary(path: path, file: try Session.openBinary(path, pid: nil))
        defer { opened.close() }
        return try FunctionSelection.matches(pattern, in: try opened.functions()).map {
            UserFunction(name: $0.name, symbol: $0.function.symbol, address: $0.function.address)
        }
    }
}
