import EBPFKernel
import EBPFProgram

#if canImport(Glibc)
import Glibc
#endif

extension Session {
    /// Loads `fnName` of `module` as a tc classifier and attaches it to the point's
    /// interface and direction through a tcx link (Linux 6.6); the caller tracks it.
    func makeTrafficControlAttachment(module: BPFModule, point: AttachPoint, fnName: String) throws(EBPFError)
        -> Attachment
    {
        guard case .trafficControl(let interface, let direction) = point.location else {
            preconditionFailure("\(point) is not tc")
        }
        let index = try Self.interfaceIndex(interface)
        let attachType = direction == .ingress ? AttachTypes.tcxIngress : AttachTypes.tcxEgress
        return try module.withFunction(fnName, type: .schedCLS) { (program) throws(EBPFError) -> Attachment in
            do throws(SystemCallFailure) {
                let hook = try LibBCC.Hook.interfaceLink(
                    program: program, interfaceIndex: index, attachType: attachType)
                return Attachment(point: point, functionName: fnName, hook: hook)
            } catch {
                let action = "could not attach '\(fnName)' to \(interface)'s tc \(direction.rawValue)"
                if error.errno == EINVAL, !KernelFeatures.release(atLeast: 6, 6) {
                    throw EBPFError(
                        .notSupported, "\(action): tcx links need Linux 6.6", call: error.call, errno: error.errno)
                }
                throw error.error(.attachFailed, action)
            }
        }
    }
}
