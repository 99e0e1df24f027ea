import EBPFKernel

extension BPFObjectCalls.TracingTarget {
    /// The target bcc's naming gives a function (``KernelFunctionProbe``), the function's id
    /// from the kernel's BTF; nil for another name or a function BTF does not have.
    package static func named(_ name: String) -> Self? {
        guard let (function, isExit) = KernelFunctionProbe.target(ofFunctionNamed: name),
            let id = (try? BTF.kernel())?.function(named: function)?.id
        else { return nil }
        return Self(functionID: id, isExit: isExit)
    }
}
