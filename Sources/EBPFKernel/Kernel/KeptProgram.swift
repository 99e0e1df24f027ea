#if canImport(Glibc)
import Glibc
#endif

/// A program loaded from a ``CompiledObject`` instead of compiled: its maps, created anew,
/// and its functions, loaded on request with those maps' descriptors written in. Offers
/// what ``LibBCC/Module`` offers, without libbcc.
package final class KeptProgram: Sendable {
    package let object: CompiledObject
    /// One per map of `object`, in its order; closed with this value.
    private let mapDescriptors: [Int32]

    /// Creates the object's maps; on a failure, closes those already created.
    package init(_ object: CompiledObject) throws(SystemCallFailure) {
        var descriptors: [Int32] = []
        for map in object.maps {
            do throws(SystemCallFailure) {
                descriptors.append(try BPFObjectCalls.createMap(map))
            } catch {
                descriptors.forEach { _ = Glibc.close($0) }
                throw error
            }
        }
        self.object = object
        mapDescriptors = descriptors
    }

    deinit {
        mapDescriptors.forEach { _ = Glibc.close($0) }
    }

    /// Its functions, and its maps with their descriptors (valid while it lives).
    package var catalog: LibBCC.Catalog {
        LibBCC.Catalog(
            functionNames: object.functions.map(\.name),
            tables: zip(object.maps, mapDescriptors).map { ($0.table, $1) })
    }

    /// As ``LibBCC/Module/loadFunction(_:programType:logLevel:log:tracing:)``.
    package func loadFunction(
        _ name: String, programType: Int32, logLevel: Int32, log: VerifierLogBuffer,
        tracing: BPFObjectCalls.TracingTarget?
    ) throws(SystemCallFailure) -> Int32 {
        guard let instructions = object.instructions(of: name, mapDescriptors: mapDescriptors) else {
            throw SystemCallFailure(call: "bpf(BPF_PROG_LOAD)", errno: ENOENT)
        }
        return try BPFObjectCalls.loadProgram(
            name, instructions: instructions, programType: programType, license: object.license,
            kernelVersion: object.kernelVersion, logLevel: logLevel, log: log,
            tracing: programType == LibBCC.ProgramTypes.tracing ? tracing : nil)
    }
}
