import EBPFKernel
package struct ELFFunction: Sendable, Hashable {
    package let symbol: String
    package let address: UInt64
    package let size: UInt64
    package let fileOffset: UInt64
    package let isGlobal: Bool
    package init(symbol: String, address: UInt64, size: UInt64, fileOffset: UInt64, isGlobal: Bool) {
        self.symbol = symbol; self.address = address; self.size = size; self.fileOffset = fileOffset; self.isGlobal = isGlobal
    }
}
package enum ELFFunctions {
    package static func read(_ file: borrowing FileDescriptor) throws(EBPFError) -> [ELFFunction] { [] }
}
