import EBPFKernel

/// Kernel symbol look-ups through `/proc/kallsyms`.
enum KernelSymbols {
    /// The prefixes the kernel's syscall entry functions carry, per architecture and era,
    /// tried in this order (the same list bcc tries).
    static let syscallPrefixes = [
        "sys_", "__x64_sys_", "__x32_compat_sys_", "__ia32_compat_sys_", "__arm64_sys_",
        "__s390x_sys_", "__s390_sys_", "__riscv_sys_",
    ]

    /// The syscall prefix of this kernel, found once per process through libbcc's kernel
    /// symbol cache (over `/proc/kallsyms`), or nil when it names no `bpf` syscall under a
    /// known prefix (kallsyms unreadable, or procfs not mounted).
    static let syscallPrefix: String? = {
        guard let kernel = LibBCC.SymbolCache(pid: -1) else { return nil }
        return syscallPrefix { kernel.address(of: $0, module: nil) != nil }
    }()

    /// The first known prefix under which `isKernelSymbol` finds the `bpf` syscall.
    static func syscallPrefix(isKernelSymbol: (String) -> Bool) -> String? {
        syscallPrefixes.first { isKernelSymbol($0 + "bpf") }
    }

    /// The error for a kernel whose syscall prefix cannot be found.
    static let syscallPrefixUnknown = EBPFError(
        .notFound,
        "cannot tell this kernel's syscall function names: /proc/kallsyms is unreadable or lists no bpf syscall under any known prefix (\(syscallPrefixes.joined(separator: ", "))); mount procfs at /proc and run as root, or trace the syscall through its tracepoint: attach(.syscall(\"<name>\")) or tracepoint:syscalls:sys_enter_<name>"
    )
}

extension KernelSymbols {
    /// The syscall a kernel entry function belongs to (`__x64_sys_bind` → `bind`), or nil.
    static func syscallName(fromFunction function: String) -> String? {
        for prefix in syscallPrefixes.sorted(by: { $0.count > $1.count }) where function.hasPrefix(prefix) {
            let name = String(function.dropFirst(prefix.count))
            return name.isEmpty ? nil : name
        }
        return nil
    }
}

extension EBPFWrapper {
    /// The kernel's own symbol for a syscall's entry function on this architecture and
    /// kernel (`__x64_sys_bind` on x86-64 since 4.17, `sys_bind` before), as bcc's
    /// `get_syscall_fnname`. The prefix is found once per process from `/proc/kallsyms`.
    ///
    /// - Throws: ``EBPFError/Code/invalidArgument`` unless `name` is a plain identifier;
    ///   ``EBPFError/Code/notFound`` when `/proc/kallsyms` cannot be read or names no
    ///   syscall function (rather than guessing a name no kprobe can attach to).
    public func syscallFunctionName(_ name: String) throws(EBPFError) -> String {
        try NameValidation.identifier(name, what: "syscall name")
        guard let prefix = KernelSymbols.syscallPrefix else { throw KernelSymbols.syscallPrefixUnknown }
        return prefix + name
    }
}
