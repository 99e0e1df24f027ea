import EBPFKernel

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
        var text = ""
        for index in probe.arguments.indices {
            let type = try valueType(of: probe, argument: index).cType
            text += "static __always_inline int \(prefix)_\(index + 1)(struct pt_regs *ctx, void *dest, size_t len) {\n"
            text += "    if (len != sizeof(\(type))) return -1;\n"
            let sites = try sites(of: probe, argument: index, into: "*(\(type) *)dest")
            if sites.count == 1 {
                text += "    \(sites[0].statement)\n    return 0;\n"
            } else {
                text += "    switch (PT_REGS_IP(ctx) % 4096) {\n"
                for (site, statement) in sites { text += "    case \(site ?? 0): \(statement) return 0;\n" }
                text += "    }\n    return -1;\n"
            }
            text += "}\n"
        }
        return text
    }

    /// A statement that stores argument `index` (from 0) of `probe` in `destination`, an
    /// lvalue of the argument's ``valueType(of:argument:)``; it stays unchanged when the
    /// thread stopped at no site of the probe.
    static func read(_ probe: USDTProbe, argument index: Int, into destination: String) throws(EBPFError) -> String {
        let sites = try sites(of: probe, argument: index, into: destination)
        guard sites.count > 1 else { return sites.first?.statement ?? "" }
        return "switch (PT_REGS_IP(ctx) % 4096) { "
            + sites.map { "case \($0.site ?? 0): \($0.statement) break; " }.joined() + "}"
    }

    /// The type argument `index` is read as: the widest it is at any site.
    static func valueType(of probe: USDTProbe, argument index: Int) throws(EBPFError) -> USDTArgument {
        let arguments = probe.argumentsBySite.compactMap { $0.count > index ? $0[index] : nil }
        guard arguments.count == probe.argumentsBySite.count, let widest = arguments.max(by: { $0.size < $1.size })
        else {
            throw EBPFError(.notSupported, "USDT probe \(probe) has a different argument count at each site")
        }
        return widest
    }

    /// For each site of `probe`, its offset within a page (nil when there is one site) and
    /// the statement storing argument `index` there in `destination`.
    private static func sites(
        of probe: USDTProbe, argument index: Int, into destination: String
    ) throws(EBPFError) -> [(site: UInt64?, statement: String)] {
        let type = try valueType(of: probe, argument: index).cType
        let sites = probe.argumentsBySite
        // Sites are told apart by the address the thread stopped at; only its offset within
        // the page is known before the binary is mapped (a mapping starts on a page).
        let pageOffsets = probe.addresses.map { $0 % 4096 }
        if sites.count > 1, Set(pageOffsets).count != sites.count {
            throw EBPFError(
                .notSupported,
                "USDT probe \(probe) has \(sites.count) sites, some at the same offset within a page, which a program cannot tell apart"
            )
        }
        var result: [(UInt64?, String)] = []
        for (offset, arguments) in zip(pageOffsets, sites) {
            let statement = try assignment(
                of: arguments[index], as: type, to: destination, argument: index + 1, probe: probe)
            result.append((sites.count > 1 ? offset : nil, statement))
        }
        return result
    }

    /// A statement storing `argument` in `destination` as a `type`.
    private static func assignment(
        of argument: USDTArgument, as type: String, to destination: String, argument number: Int, probe: USDTProbe
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
            return "\(destination) = (\(type))\(value)LL;"
        case .register(let name):
            return "\(destination) = (\(type))\(try register(name)); \(barrier)"
        case .memory(let base, let offset, let index, let scale):
            let indexed = try index.map { (name) throws(EBPFError) in " + \(try register(name)) * \(scale)" } ?? ""
            return
                "{ u64 ebpf_at = \(try register(base)) + (\(offset))\(indexed); \(barrier) \(argument.cType) ebpf_memory = 0; bpf_probe_read_user(&ebpf_memory, sizeof(ebpf_memory), (void *)ebpf_at); \(destination) = (\(type))ebpf_memory; }"
        case .global(let symbol, _):
            throw EBPFError(
                .notSupported,
                "argument \(number) of USDT probe \(probe) is the global variable \(NameValidation.quoted(symbol)), which the library does not read yet"
            )
        }
    }
}
