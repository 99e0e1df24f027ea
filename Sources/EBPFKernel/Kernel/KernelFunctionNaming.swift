/// bcc's names for fentry and fexit functions: `KFUNC_PROBE(f, …)` defines `kfunc__f`,
/// `KRETFUNC_PROBE(f, …)` defines `kretfunc__f`, and from libbcc 0.28 `kfunc__vmlinux__f` and
/// `kretfunc__vmlinux__f` (the function's module, then its name). The program is loaded for
/// `f`'s BTF id, found from the name.
package enum KernelFunctionProbe {
    package static let entryPrefix = "kfunc__"
    package static let exitPrefix = "kretfunc__"
    /// The kernel's own module, as libbcc 0.28+ writes it into the name.
    package static let kernelModule = "vmlinux__"

    /// The name of the function a generated program defines for `function`.
    package static func functionName(_ function: String, exit: Bool) -> String {
        (exit ? exitPrefix : entryPrefix) + function
    }

    /// The names a `KFUNC_PROBE(function)` (or `KRETFUNC_PROBE`) may have, older libbcc's first.
    package static func functionNames(_ function: String, exit: Bool) -> [String] {
        [functionName(function, exit: exit), functionName(kernelModule + function, exit: exit)]
    }

    /// The kernel function a program's function name attaches to, and whether at its exit;
    /// nil for a name of neither scheme.
    package static func target(ofFunctionNamed name: String) -> (function: String, isExit: Bool)? {
        let isExit = name.hasPrefix(exitPrefix)
        guard isExit || name.hasPrefix(entryPrefix) else { return nil }
        var function = name.dropFirst(isExit ? exitPrefix.count : entryPrefix.count)
        if function.hasPrefix(kernelModule) { function = function.dropFirst(kernelModule.count) }
        return function.isEmpty ? nil : (String(function), isExit)
    }
}

/// bcc's names for the programs loaded for a kernel function's BTF id, and that function:
/// fentry and fexit (``KernelFunctionProbe``), `LSM_PROBE(hook, …)`'s `lsm__hook` (the
/// kernel's `bpf_lsm_hook`), and `BPF_ITER(target)`'s `bpf_iter__target` (the kernel's
/// `bpf_iter_target`).
package enum BTFProgramNaming {
    package static let lsmPrefix = "lsm__"
    package static let iteratorPrefix = "bpf_iter__"

    /// The kernel function whose BTF id a program named `name` of type `programType` is
    /// loaded for, and the attach type it is loaded as; nil for a program loaded without.
    package static func target(ofFunctionNamed name: String, programType: Int32) -> (
        function: String, attachType: UInt32
    )? {
        switch programType {
        case LibBCC.ProgramTypes.tracing:
            if name.hasPrefix(iteratorPrefix), name.count > iteratorPrefix.count {
                return ("bpf_iter_" + name.dropFirst(iteratorPrefix.count), AttachTypes.traceIterator)
            }
            guard let (function, isExit) = KernelFunctionProbe.target(ofFunctionNamed: name) else { return nil }
            return (function, isExit ? AttachTypes.traceFexit : AttachTypes.traceFentry)
        case LibBCC.ProgramTypes.lsm:
            guard name.hasPrefix(lsmPrefix), name.count > lsmPrefix.count else { return nil }
            return ("bpf_lsm_" + name.dropFirst(lsmPrefix.count), AttachTypes.lsmMAC)
        default:
            return nil
        }
    }

    /// Whether the program loads only with a BTF id found for it.
    package static func needsBTF(_ name: String, programType: Int32) -> Bool {
        target(ofFunctionNamed: name, programType: programType) != nil
    }
}
