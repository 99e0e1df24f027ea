import EBPFKernel

extension LoadedFunction {
    /// The program pinned at `path` (by this or another process), as cilium's
    /// `LoadPinnedProgram`: named as the kernel names it (its first 15 characters). The
    /// handle's descriptor closes with ``close()`` or when the handle goes.
    ///
    /// - Throws: ``EBPFError/Code/notFound`` when nothing is pinned there,
    ///   ``EBPFError/Code/invalidArgument`` for a bad path or an object that is not a program.
    public static func pinned(at path: String) throws(EBPFError) -> LoadedFunction {
        try BPFFilesystem.validate(path)
        return try open("the program pinned at \(path)") { () throws(SystemCallFailure) in
            try ObjectPins.open(pinnedAt: path)
        }
    }

    /// The program with the kernel's id `id` (``id``, `bpftool prog show`), as ``pinned(at:)``.
    public static func withID(_ id: UInt32) throws(EBPFError) -> LoadedFunction {
        try open("the program with id \(id)") { () throws(SystemCallFailure) in
            try ObjectPins.open(id: id, program: true)
        }
    }

    /// Pins the program at `path` on a BPF filesystem: it stays loaded after this process
    /// exits, until unpinned (``BPFFilesystem/unpin(_:)``).
    ///
    /// - Throws: ``EBPFError/Code/invalidArgument`` for a path off a BPF filesystem or one
    ///   already taken, ``EBPFError/Code/closed`` once closed.
    public func pin(at path: String) throws(EBPFError) {
        try BPFFilesystem.preparePin(path)
        try withDescriptor { (program) throws(EBPFError) in
            do throws(SystemCallFailure) {
                try ObjectPins.pin(program, at: path)
            } catch {
                throw BPFFilesystem.pinFailure(error, what: "'\(name)'", path: path)
            }
        }
    }

    /// The kernel's id of the program.
    public var id: UInt32 {
        get throws(EBPFError) {
            try withDescriptor { (program) throws(EBPFError) -> UInt32 in
                let info: ProgramInfoCalls.Info?
                do throws(SystemCallFailure) {
                    info = ProgramInfoCalls.info(of: try FileDescriptor.duplicate(program))
                } catch {
                    throw error.error(.systemCallFailed, "could not read the id of '\(name)'")
                }
                guard let info else { throw EBPFError(.systemCallFailed, "the kernel did not describe '\(name)'") }
                return info.id
            }
        }
    }

    private static func open(_ what: String, _ body: () throws(SystemCallFailure) -> FileDescriptor) throws(EBPFError)
        -> LoadedFunction
    {
        let descriptor: FileDescriptor
        do throws(SystemCallFailure) {
            descriptor = try body()
        } catch {
            throw error.error(.systemCallFailed, "could not open \(what)")
        }
        guard let info = ProgramInfoCalls.info(of: descriptor) else {
            throw EBPFError(.invalidArgument, "\(what) is not a program (a map or a link?)")
        }
        return LoadedFunction(
            name: info.name, type: ProgramType(rawValue: Int32(bitPattern: info.type)), descriptor: descriptor)
    }
}

extension Attachment {
    /// Pins the attachment's BPF link at `path` on a BPF filesystem: the program stays
    /// attached after this process exits, until the pin is removed
    /// (``BPFFilesystem/unpin(_:)``), as cilium's `Link.Pin`. Detaching the handle then
    /// leaves the pinned link attached.
    ///
    /// - Throws: ``EBPFError/Code/notSupported`` for an attachment that is not a link (a
    ///   tracepoint's, kprobe's, uprobe's or perf event's perf event; an rtnetlink tc
    ///   classifier); ``EBPFError/Code/invalidArgument`` for a path off a BPF filesystem or
    ///   one already taken; ``EBPFError/Code/closed`` once detached.
    public func pin(at path: String) throws(EBPFError) {
        try BPFFilesystem.preparePin(path)
        let pinned = try withHook { (hook) throws(EBPFError) -> Bool in
            do throws(SystemCallFailure) {
                return try hook.pin(at: path)
            } catch {
                throw BPFFilesystem.pinFailure(error, what: "\(point)'s link", path: path)
            }
        }
        guard pinned else {
            throw EBPFError(
                .notSupported,
                "\(point) is not attached through a BPF link (but a perf event, an rtnetlink classifier or a cgroup attachment with flags): only links pin (raw tracepoints, fentry and fexit, LSM hooks, XDP, tcx, cgroup programs in .link mode)"
            )
        }
    }
}
