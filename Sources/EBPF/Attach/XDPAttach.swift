import EBPFKernel
import EBPFProgram

#if canImport(Glibc)
import Glibc
#endif

extension Session {
    /// The index of network interface `name` in the calling thread's namespace.
    static func interfaceIndex(_ name: String) throws(EBPFError) -> UInt32 {
        guard let index = NetworkInterfaces.index(of: name) else {
            throw EBPFError(
                .notFound,
                "no network interface \(NameValidation.quoted(name)) in this network namespace (`ip link` lists them)")
        }
        return index
    }

    /// Loads `fnName` of `module` as an XDP program and links it to the point's interface;
    /// the caller tracks the attachment.
    func makeXDPAttachment(module: BPFModule, point: AttachPoint, fnName: String) throws(EBPFError) -> Attachment {
        guard case .xdp(let interface, let mode) = point.location else { preconditionFailure("\(point) is not XDP") }
        let index = try Self.interfaceIndex(interface)
        guard mode != .offload else {
            throw EBPFError(
                .notSupported,
                "XDP offload runs the program on \(interface)'s network card, which needs it loaded for that card (BPF_PROG_LOAD's prog_ifindex), and the library loads programs for the CPU: use .driver or .generic"
            )
        }
        return try module.withFunction(fnName, type: .xdp) { (program) throws(EBPFError) -> Attachment in
            do throws(SystemCallFailure) {
                let hook = try LibBCC.Hook.interfaceLink(
                    program: program, interfaceIndex: index, attachType: AttachTypes.xdp, flags: mode.flags)
                return Attachment(point: point, functionName: fnName, hook: hook)
            } catch {
                throw Self.xdpFailure(error, interface: interface, mode: mode, fnName: fnName)
            }
        }
    }

    /// What an XDP attach's errno means.
    static func xdpFailure(_ failure: SystemCallFailure, interface: String, mode: XDPMode, fnName: String) -> EBPFError
    {
        let action = "could not attach '\(fnName)' as XDP (\(mode.rawValue) mode) on \(interface)"
        switch failure.errno {
        case EBUSY, EEXIST:
            return EBPFError(
                .attachFailed,
                "\(action): the interface already runs an XDP program in another mode or through no link (`ip link show \(interface)` shows it; bcc's remove_xdp took such ones off)",
                call: failure.call, errno: failure.errno)
        case EOPNOTSUPP where mode != .generic:
            return EBPFError(
                .notSupported,
                "\(action): its driver lacks \(mode == .offload ? "offload" : "native") XDP; use .generic",
                call: failure.call, errno: failure.errno)
        case EINVAL where !KernelFeatures.release(atLeast: 5, 9):
            return EBPFError(
                .notSupported, "\(action): XDP links need Linux 5.9", call: failure.call, errno: failure.errno)
        default:
            return failure.error(.attachFailed, action)
        }
    }
}
