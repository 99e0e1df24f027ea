import EBPFKernel
import EBPFProgram

#if canImport(Glibc)
import Glibc
#endif

extension Session {
    /// Loads `fnName` of `module` as a tc classifier and attaches it to the point's
    /// interface and direction: through a tcx link from Linux 6.6 (gone with the process at
    /// the latest), before through rtnetlink as a direct-action bpf classifier under the
    /// clsact qdisc (added if missing, and deleted with the last classifier when the library
    /// added it), which stays after the process exits until detached. The caller tracks it.
    func makeTrafficControlAttachment(module: BPFModule, point: AttachPoint, fnName: String) throws(EBPFError)
        -> Attachment
    {
        guard case .trafficControl(let interface, let direction) = point.location else {
            preconditionFailure("\(point) is not tc")
        }
        let index = try Self.interfaceIndex(interface)
        let egress = direction == .egress
        return try module.withFunction(fnName, type: .schedCLS) { (program) throws(EBPFError) -> Attachment in
            do throws(SystemCallFailure) {
                let hook =
                    KernelFeatures.hasTCX
                    ? try LibBCC.Hook.interfaceLink(
                        program: program, interfaceIndex: index,
                        attachType: egress ? AttachTypes.tcxEgress : AttachTypes.tcxIngress)
                    : try TrafficControlCalls.attachClassifier(
                        program: program, name: fnName, interfaceIndex: index, egress: egress)
                return Attachment(point: point, functionName: fnName, hook: hook)
            } catch {
                throw error.error(
                    .attachFailed, "could not attach '\(fnName)' to \(interface)'s tc \(direction.rawValue)")
            }
        }
    }
}
