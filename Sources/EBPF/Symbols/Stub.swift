import EBPFKernel
import EBPFProgram
struct NamedFunction: Sendable, Hashable { let function: ELFFunction; let name: String }
enum FunctionSelection {
    static func select(_ query: String, from functions: [ELFFunction], in binaryDescription: String) throws(EBPFError) -> [NamedFunction] { throw EBPFError(.notFound, "stub") }
    static func matches(_ query: String, in functions: [ELFFunction]) throws(EBPFError) -> [NamedFunction] { [] }
}
extension NameValidation {
    static func userFunction(_ text: String) throws(EBPFError) {}
    static func isSymbol(_ text: String) -> Bool { true }
}
struct SwiftFunctionName { init?(demangled: String) { nil }; var description: String { "" } }
public struct FoldedStack: Sendable, Hashable { public var frames: [String]; public var count: UInt64; public init(frames: [String], count: UInt64) { self.frames = frames; self.count = count } }
extension FoldedStack { public static func foldedText(_ stacks: [FoldedStack]) -> String { "" } }
public struct FlameGraph { public init(stacks: [FoldedStack], title: String = "") {}; public var svg: String { "" } }
