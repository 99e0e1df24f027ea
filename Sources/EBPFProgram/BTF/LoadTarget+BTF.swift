import EBPFKernel

extension BPFObjectCalls.LoadTarget {
    /// The target bcc's naming gives a function of type `programType`
    /// (``BTFProgramNaming``), with the kernel function's id from the kernel's BTF; nil for
    /// another name or a function BTF does not have.
    package static func named(_ name: String, programType: Int32) -> Self? {
        guard let (function, attachType) = BTFProgramNaming.target(ofFunctionNamed: name, programType: programType),
            let id = (try? BTF.kernel())?.function(named: function)?.id
        else { return nil }
        return Self(attachType: attachType, btfID: id)
    }
}
