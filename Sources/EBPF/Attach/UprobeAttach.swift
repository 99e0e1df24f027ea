extension EBPFWrapper {
    /// Attaches the program's function `fnName` to the entry of a function in a user-space
    /// binary or library, as bcc's `attach_uprobe(name=…, sym=…, fn_name=…, pid=…)`.
    ///
    /// - Parameters:
    ///   - name: A path (`/usr/bin/bash`) or a library name as the linker would find it
    ///     (`"c"` for libc).
    ///   - sym: The symbol to probe, e.g. `"malloc"`.
    ///   - fnName: A function of the program, loaded as a kprobe-type program.
    ///   - pid: Only fire in this process; nil fires in every process that maps the binary.
    /// - Throws: ``EBPFError/Code/notFound`` for a missing binary or symbol,
    ///   ``EBPFError/Code/attachFailed``, and the errors of ``loadFunction(_:type:)``.
    ///
    /// The corresponding libbcc function is `bpf_attach_uprobe`.
    @discardableResult
    public func attachUprobe(name: String, sym: String, fnName: String, pid: Int32? = nil) throws(EBPFError)
        -> Attachment
    {
        try attachUserProbe(name: name, sym: sym, fnName: fnName, pid: pid, isReturn: false, beforeAttach: {})
    }

    /// Attaches the program's function `fnName` to the return of a function in a user-space
    /// binary or library, as bcc's `attach_uretprobe(name=…, sym=…, fn_name=…, pid=…)`.
    /// `PT_REGS_RC(ctx)` holds the return value.
    ///
    /// - Throws: as ``attachUprobe(name:sym:fnName:pid:)``.
    ///
    /// The corresponding libbcc function is `bpf_attach_uprobe`.
    @discardableResult
    public func attachUretprobe(name: String, sym: String, fnName: String, pid: Int32? = nil) throws(EBPFError)
        -> Attachment
    {
        try attachUserProbe(name: name, sym: sym, fnName: fnName, pid: pid, isReturn: true, beforeAttach: {})
    }

    /// - Parameter beforeAttach: Called between resolving the symbol and the kernel's
    ///   attach: tests swap the binary's path there.
    func attachUserProbe(
        name: String, sym: String, fnName: String, pid: Int32?, isReturn: Bool, beforeAttach: () -> Void
    ) throws(EBPFError) -> Attachment {
        try checkOpen()
        try NameValidation.binaryPath(name)
        try NameValidation.symbol(sym, what: "symbol name")
        if let pid, pid <= 0 {
            throw EBPFError(.invalidArgument, "pid \(pid) is not a process id; pass nil to probe every process")
        }
        let kind: Attachment.Kind = isReturn ? .uretprobe : .uprobe
        let binary = try Self.locateBinary(name, pid: pid ?? -1)
        guard let (path, offset) = LibBCC.resolveSymbol(module: binary, symbol: sym, pid: pid ?? -1) else {
            throw EBPFError(
                .notFound,
                "no symbol '\(sym)' in \(binary); list its symbols with `nm -D \(binary)` (or `nm` for static ones)"
            )
        }
        let eventName = ProbeEventName.make(isReturn ? "r" : "p", "\(path)_0x\(String(offset, radix: 16))")
        beforeAttach()
        let attachment = try nativeModule().withFunction(fnName, type: .kprobe) {
            (program) throws(EBPFError) -> Attachment in
            do throws(SystemCallFailure) {
                let hook = try LibBCC.Hook.uprobe(
                    program: program, isReturn: isReturn, eventName: eventName, binaryPath: path, offset: offset,
                    pid: pid ?? -1)
                return Attachment(kind: kind, target: "\(path):\(sym)", functionName: fnName, hook: hook)
            } catch {
                throw error.error(.attachFailed, "could not attach '\(fnName)' as a \(kind) on \(path):\(sym)")
            }
        }
        return try track(attachment)
    }

    /// The file `name` refers to: a path that must exist, or a library found as the dynamic
    /// loader would (in `pid`'s mappings first when given).
    private static func locateBinary(_ name: String, pid: Int32) throws(EBPFError) -> String {
        if name.contains("/") {
            guard SystemFiles.exists(name) else {
                throw EBPFError(
                    .notFound, "no binary at \(name); pass an existing path or a library name such as \"c\"")
            }
            return name
        }
        guard let path = LibBCC.whichLibrary(name, pid: pid) else {
            throw EBPFError(
                .notFound,
                "no library named '\(name)' (looked for lib\(name).so in the loader's cache); pass a path or a name such as \"c\" for libc"
            )
        }
        return path
    }
}
