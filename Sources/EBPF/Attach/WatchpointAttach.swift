import EBPFKernel
import EBPFProgram

#if canImport(Glibc)
import Glibc
#endif

extension Session {
    /// Loads `fnName` of `module` as a perf event program and arms the point's hardware
    /// breakpoint on each CPU it covers; the caller tracks the attachment.
    func makeWatchpointAttachment(module: BPFModule, point: AttachPoint, fnName: String) throws(EBPFError)
        -> Attachment
    {
        guard case .watchpoint(let watchpoint, let pid) = point.location else {
            preconditionFailure("\(point) is not a watchpoint")
        }
        let cpus: [Int32] = pid != nil ? [-1] : try SystemFiles.onlineCPUs()
        return try module.withFunction(fnName, type: .perfEvent) { (program) throws(EBPFError) -> Attachment in
            do throws(SystemCallFailure) {
                let hook = try LibBCC.Hook.breakpoints(
                    program: program, address: watchpoint.address, length: watchpoint.length,
                    kind: watchpoint.access.rawValue, pid: pid ?? -1, cpus: cpus)
                return Attachment(point: point, functionName: fnName, hook: hook)
            } catch {
                let action = "could not arm watchpoint \(watchpoint) for '\(fnName)'"
                if error.errno == ENOSPC {
                    throw EBPFError(
                        .attachFailed, "\(action): the CPU's debug registers are all in use (four per CPU)",
                        call: error.call, errno: error.errno)
                }
                throw error.error(.attachFailed, action)
            }
        }
    }
}
