/// The C functions that read a USDT probe's arguments from the registers and memory of the
/// traced thread when the probe fires (its uprobe's `struct pt_regs`).
///
/// bcc's rewriter turns `bpf_usdt_readarg(n, ctx, &value)` in a function `f` into a call of
/// `_bpf_readarg_f_n(ctx, &value, sizeof(value))`; ``readers(for:prefix:)`` with the prefix
/// `_bpf_readarg_f` writes those functions. Only names checked here reach the C: register
/// names from a fixed list, numbers, and the caller's validated prefix.
enum USDTArgumentReader {
    /// The `struct pt_regs` members (x86-64) a probe site may name.
    static let registers: Set<String> = [
        "ax", "bx", "cx", "dx", "si", "di", "bp", "sp", "ip", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
    ]

    /// One function `<prefix>_<n>(struct pt_regs *ctx, void *dest, size_t len)` per argument
    /// (n from 1), returning 0 having stored the argument at `dest`, or -1 when `len` is not
    /// the argument's size or the thread stopped at no site of the probe.
    ///
    /// - Throws: ``EBPFError/Code/notSupported`` for an argument BPF cannot read (a
    ///   floating-point register, a global variable) or sites the program cannot tell apart.
    static func readers(for probe: USDTProbe, prefix: String) throws(EBPFError) -> String {
        let sites = probe.argumentsBySite
        let count = probe.arguments.count
        guard count > 0 else { return "" }
        // Sites are told apart by the address the thread stopped at; only its offset within
        // the page is known before the binary is mapped (the mapping starts on a page).
        let pageOffsets = probe.addresses.map { $0 % 4096 }
        if sites.count > 1, Set(pageOffsets).count != sites.count {
            throw EBPFError(
                .notSupported,
                "USDT probe \(probe) has \(sites.count) sites, some at the same offset within a page, which a program cannot tell apart"
            )
        }
        var text = ""
        for index in 0..<count {
            let arguments = sites.compactMap { $0.count > index ? $0[index] : nil }
            guard arguments.count == sites.count, let widest = arguments.max(by: { $0.size < $1.size }) else {
                throw EBPFError(.notSupported, "USDT probe \(probe) has a different argument count at each site")
            }
            let type = widest.cType
            text += "static __always_inline int \(prefix)_\(index + 1)(struct pt_regs *ctx, void *dest, size_t len) {\n"
            text += "    if (len != sizeof(\(type))) return -1;\n"
            if sites.count == 1 {
                text += "    " + (try assignment(of: arguments[0], as: type, argument: index + 1, probe: probe)) + "\n"
                text += "    return 0;\n"
            } else {
                text += "    switch (PT_REGS_IP(ctx) % 4096) {\n"
                for (offset, argument) in zip(pageOffsets, arguments) {
                    let statement = try assignment(of: argument, as: type, argument: index + 1, probe: probe)
                    text += "    case \(offset): \(statement) return 0;\n"
                }
                text += "    }\n    return -1;\n"
            }
            text += "}\n"
        }
        return text
    }

    /// A statement storing `argument` at `dest` as a `type`.
    private static func assignment(
        of argument: USDTArgument, as type: String, argument number: Int, probe: USDTProbe
    ) throws(EBPFError) -> String {
        func register(_ name: String) throws(EBPFError) -> String {
            guard registers.contains(name) else {
                throw EBPFError(
                    .notSupported,
                    "argument \(number) of USDT probe \(probe) is in register \(name), which a BPF program cannot read")
            }
            return "ctx->" + name
        }
        // The empty asm keeps clang from merging the sites' reads of ctx (which the
        // verifier refuses).
        let barrier = "asm volatile(\"\" ::: \"memory\");"
        switch argument.location {
        case .constant(let value):
            return "*(\(type) *)dest = (\(type))\(value)LL;"
        case .register(let name):
            return "*(\(type) *)dest = (\(type))\(try register(name)); \(barrier)"
        case .memory(let base, let offset, let index, let scale):
            let indexed = try index.map { (name) throws(EBPFError) in " + \(try register(name)) * \(scale)" } ?? ""
            return
                "{ u64 ebpf_at = \(try register(base)) + (\(offset))\(indexed); \(barrier) \(argument.cType) ebpf_value = 0; bpf_probe_read_user(&ebpf_value, sizeof(ebpf_value), (void *)ebpf_at); *(\(type) *)dest = (\(type))ebpf_value; }"
        case .global(let symbol, _):
            throw EBPFError(
                .notSupported,
                "argument \(number) of USDT probe \(probe) is the global variable \(NameValidation.quoted(symbol)), which the library does not read yet"
            )
        }
    }
}
