import EBPFKernel
import EBPFProgram

/// Reads the stacks a generated program recorded, by id, and names their frames.
struct StackReader: Sendable {
    let stacks: MapAccess
    let failures: MapAccess
    let symbols: SymbolResolver
    let maxDepth: Int

    init(module: BPFModule, symbols: SymbolResolver, maxDepth: Int) throws(EBPFError) {
        stacks = try MapAccess(info: module.table(StackTable.name), module: module)
        failures = try MapAccess(info: module.table(StackTable.failuresName), module: module)
        self.symbols = symbols
        self.maxDepth = maxDepth
    }

    /// The frames of stack `id`, innermost first: a user stack of process `pid`, or the
    /// kernel's (`pid` nil). Empty for a negative id (not recorded) or one no longer stored.
    func frames(id: Int32, pid: Int32?) -> [StackFrame] {
        guard id >= 0, let bytes = try? stacks.lookup(MapAccess.bytes(of: UInt32(id), size: 4)) else { return [] }
        return StackTable.addresses(in: bytes, depth: maxDepth).map { address in
            if let pid { return symbols.userFrame(address, pid: pid) }
            return symbols.kernelFrame(address)
        }
    }

    /// The stacks a probe's record `raw` carries the ids of, at `offsets`, named.
    func stacks(ofRecord raw: UnsafeRawBufferPointer, at offsets: (kernel: Int?, user: Int?)) -> RecordedStacks {
        func id(at offset: Int) -> Int32 {
            raw.count >= offset + 4 ? raw.loadUnaligned(fromByteOffset: offset, as: Int32.self) : -1
        }
        return RecordedStacks(
            kernel: offsets.kernel.map { frames(id: id(at: $0), pid: nil) },
            user: offsets.user.map { frames(id: id(at: $0), pid: id(at: ProbeRecordHeader.Offset.processID)) })
    }

    /// The stacks the program could not record so far, summed over the CPUs.
    func failureCounts() throws(EBPFError) -> StackFailures {
        func count(_ slot: UInt32) throws(EBPFError) -> UInt64 {
            guard let value = try failures.lookup(MapAccess.bytes(of: slot, size: 4)) else { return 0 }
            return failures.perCPUValues(value).reduce(0) { $0 &+ Aggregation.word($1, at: 0) }
        }
        return StackFailures(collisions: try count(0), faults: try count(1), other: try count(2))
    }
}

extension SymbolResolver {
    /// The frame at `address` of process `pid`: a Swift function by its name where it has
    /// one (`Server.handle(request:)`), else the symbol demangled.
    func userFrame(_ address: UInt64, pid: Int32) -> StackFrame {
        guard let (symbol, isSwift) = userSymbol(address, pid: pid, demangle: true) else {
            return StackFrame(address: address, function: "[unknown]", module: nil)
        }
        let name = isSwift ? SwiftFunctionName(demangled: symbol.name)?.qualifiedName ?? symbol.name : symbol.name
        return StackFrame(address: address, function: name, module: symbol.module.isEmpty ? nil : symbol.module)
    }

    /// The kernel frame at `address`.
    func kernelFrame(_ address: UInt64) -> StackFrame {
        guard let symbol = withCache(pid: -1, { $0.resolve(address, demangle: false) }) else {
            return StackFrame(address: address, function: "[unknown]", module: "[kernel]")
        }
        return StackFrame(address: address, function: symbol.name, module: "[kernel]")
    }
}
