import EBPFKernel
import EBPFProgram

extension Session {
    /// Loads `fnName` of `module` as an LSM program for the point's hook (its BTF id) and
    /// attaches it through a link; the caller tracks the attachment.
    func makeLSMAttachment(module: BPFModule, point: AttachPoint, fnName: String) throws(EBPFError) -> Attachment {
        guard case .lsm(let hook) = point.location else { preconditionFailure("\(point) is not an LSM hook") }
        try KernelFeatures.requireBPFLSM(hook: hook)
        guard let function = try BTF.kernel().function(named: "bpf_lsm_" + hook) else {
            throw EBPFError(
                .notFound,
                "the kernel has no LSM hook '\(hook)': its BTF has no bpf_lsm_\(hook) (the hooks are the names after bpf_lsm_ in /sys/kernel/btf/vmlinux; include/linux/lsm_hook_defs.h lists them)"
            )
        }
        let target = BPFObjectCalls.LoadTarget(attachType: AttachTypes.lsmMAC, btfID: function.id)
        return try module.withFunction(fnName, type: .lsm, target: target) {
            (program) throws(EBPFError) -> Attachment in
            do throws(SystemCallFailure) {
                let link = try LibBCC.Hook.btfLink(program: program)
                return Attachment(point: point, functionName: fnName, hook: link)
            } catch {
                throw error.error(.attachFailed, "could not attach '\(fnName)' to LSM hook \(hook)")
            }
        }
    }
}
