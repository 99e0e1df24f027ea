/// One frame of a stack a probe recorded: the address and the function holding it.
public struct StackFrame: Sendable, Hashable, CustomStringConvertible {
    /// The instruction address: a return address, or the interrupted instruction for the
    /// innermost frame.
    public let address: UInt64
    /// The function holding the address: a kernel symbol, a Swift function by its name
    /// (`MyService.Server.handle(request:)`), other Swift and C++ symbols demangled, a C
    /// symbol; `[unknown]` when none holds it.
    public let function: String
    /// The file the function is in (a binary's path, `[kernel]` for the kernel); nil when unknown.
    public let module: String?

    public init(address: UInt64, function: String, module: String?) {
        self.address = address
        self.function = function
        self.module = module
    }

    public var description: String { function }
}
