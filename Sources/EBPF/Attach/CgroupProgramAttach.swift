import EBPFKernel
import EBPFProgram

#if canImport(Glibc)
import Glibc
#endif

extension Session {
    /// Loads `fnName` of `module` for the point's cgroup hook and links it to the cgroup;
    /// the caller tracks the attachment.
    func makeCgroupProgramAttachment(module: BPFModule, point: AttachPoint, fnName: String) throws(EBPFError)
        -> Attachment
    {
        guard case .cgroupProgram(let path, let hook, let mode) = point.location else {
            preconditionFailure("\(point) is not a cgroup program")
        }
        let directory = try Self.cgroupDirectory(path)
        return try module.withFunction(
            fnName, type: hook.programType, target: BPFObjectCalls.LoadTarget(attachType: hook.attachType)
        ) { (program) throws(EBPFError) -> Attachment in
            do throws(SystemCallFailure) {
                let cgroup = try FileDescriptor.open(directory, O_RDONLY | O_DIRECTORY)
                let attached =
                    if let flags = mode.flags {
                        try LibBCC.Hook.cgroupAttachment(
                            program: program, cgroup: cgroup, attachType: hook.attachType, flags: flags)
                    } else {
                        try LibBCC.Hook.cgroupLink(program: program, cgroup: cgroup, attachType: hook.attachType)
                    }
                return Attachment(point: point, functionName: fnName, hook: attached)
            } catch {
                let action = "could not attach '\(fnName)' to cgroup \(path) at \(hook.rawValue) (\(mode.rawValue))"
                if error.errno == EEXIST, mode.flags != nil {
                    throw EBPFError(
                        .attachFailed,
                        "\(action): the cgroup has a program at the hook, which the kernel would swap out for this one; detach it first, or attach with .multi or .link beside it",
                        call: error.call, errno: error.errno)
                }
                if error.errno == EPERM {
                    throw EBPFError(
                        .attachFailed,
                        "\(action): the programs at the hook of this cgroup or one above it were attached in a mode this one cannot join (exclusive or override above; multi and not multi mixed), or this process lacks CAP_NET_ADMIN",
                        call: error.call, errno: error.errno)
                }
                if error.errno == EINVAL, !KernelFeatures.release(atLeast: 5, 7) {
                    throw EBPFError(
                        .notSupported, "\(action): cgroup links need Linux 5.7", call: error.call, errno: error.errno)
                }
                throw error.error(.attachFailed, action)
            }
        }
    }

    /// The directory of the cgroup at `path` (a directory of the cgroup2 mount, or a path
    /// from the hierarchy's root).
    static func cgroupDirectory(_ path: String) throws(EBPFError) -> String {
        try Cgroup(path: path).directory()
    }
}
