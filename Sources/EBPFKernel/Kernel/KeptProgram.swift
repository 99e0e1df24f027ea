#if canImport(Glibc)
import Glibc
#endif

/// A program loaded from a ``CompiledObject`` instead of compiled: its maps, created anew,
/// and its functions, loaded on request with those maps' descriptors written in. Offers
/// what ``LibBCC/Module`` offers, without libbcc.
package final class KeptProgram: Sendable {
    package let object: CompiledObject
    /// One per map of `object`, in its order; closed with this value.
    private let maps: DescriptorGroup

    /// Creates the object's maps; on a failure, those already created close with `maps`.
    package init(_ object: CompiledObject) throws(SystemCallFailure) {
        var maps = DescriptorGroup(.file)
        for map in object.maps {
            maps.append(try BPFObjectCalls.createMap(map))
        }
        self.object = object
        self.maps = maps
    }

    /// Its functions, and its maps with their descriptors (valid while it lives).
    package var catalog: LibBCC.Catalog {
        LibBCC.Catalog(
            functionNames: object.functions.map(\.name),
            tables: zip(object.maps, maps.numbers).map { LibBCC.Catalog.Table(info: $0.table, descriptor: $1) })
    }

    /// Runs `body` with the descriptor of `table`, one of this program's ``catalog``.
    package func lend<Result: ~Copyable, Failure: Error>(
        _ table: LibBCC.Catalog.Table, _ body: (borrowing BorrowedDescriptor) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        try body(BorrowedDescriptor(lending: table.descriptor))
    }

    /// As ``LibBCC/Module/loadFunction(_:programType:logLevel:log:target:)``.
    package func loadFunction(
        _ name: String, programType: Int32, logLevel: Int32, log: VerifierLogBuffer,
        target: BPFObjectCalls.LoadTarget?
    ) throws(SystemCallFailure) -> FileDescriptor {
        if BTFProgramNaming.needsBTF(name, programType: programType), target == nil {
            throw SystemCallFailure(call: "bpf(BPF_PROG_LOAD)", errno: ENOENT)
        }
        guard let instructions = object.instructions(of: name, mapDescriptors: maps.numbers) else {
            throw SystemCallFailure(call: "bpf(BPF_PROG_LOAD)", errno: ENOENT)
        }
        return try BPFObjectCalls.loadProgram(
            name, instructions: instructions, programType: programType, license: object.license,
            kernelVersion: object.kernelVersion, logLevel: logLevel, log: log,
            target: target)
    }
}
