/// Kernel symbol look-ups through `/proc/kallsyms`.
enum KernelSymbols {
    /// The prefixes the kernel's syscall entry functions carry, per architecture and era,
    /// tried in this order (the same list bcc tries).
    static let syscallPrefixes = [
        "sys_", "__x64_sys_", "__x32_compat_sys_", "__ia32_compat_sys_", "__arm64_sys_",
        "__s390x_sys_", "__s390_sys_", "__riscv_sys_",
    ]

    /// The syscall prefix of this kernel, found once per process: the prefix under which
    /// kallsyms lists the `bpf` syscall.
    static let syscallPrefix: String = {
        guard let text = try? SystemFiles.readText("/proc/kallsyms") else {
            return syscallPrefixes[0]
        }
        let wanted = Set(syscallPrefixes.map { $0 + "bpf" })
        var found: Set<Substring> = []
        for line in text.split(separator: "\n") {
            // "ffffffff81234560 T __x64_sys_bpf"
            guard let name = line.split(separator: " ", maxSplits: 3).dropFirst(2).first,
                wanted.contains(String(name))
            else { continue }
            found.insert(name)
        }
        return syscallPrefixes.first { found.contains(Substring($0 + "bpf")) } ?? syscallPrefixes[0]
    }()
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
    /// - Throws: ``EBPFError/Code/invalidArgument`` unless `name` is a plain identifier.
    public func syscallFunctionName(_ name: String) throws(EBPFError) -> String {
        try NameValidation.identifier(name, what: "syscall name")
        return KernelSymbols.syscallPrefix + name
    }
}
