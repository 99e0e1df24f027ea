internal import CBCC

/// libbcc's USDT reader: the `.note.stapsdt` notes of a binary, or of every binary a process
/// maps, parsed by libbcc (`bcc_usdt_*`, in the compiler library).
extension LibBCC {
    /// What `bcc_usdt_foreach` reports of each probe, collected by its C callback (which
    /// can capture nothing); reached only under ``LibBCC/lock``.
    private struct Listed {
        package var provider: String
        package var name: String
        package var binaryPath: String
        package var semaphoreOffset: UInt64
        package var locations: Int32
        package var arguments: Int32
    }
    nonisolated(unsafe) private static var listed: [Listed] = []

    /// The USDT probes of the binary at `path` (a pid of nil), or of every binary process
    /// `pid` maps (`path` nil), or of `path` as process `pid` sees it.
    ///
    /// - Throws: ``EBPFError/Code/notFound`` when libbcc cannot read them.
    package static func usdtProbes(path: String?, pid: Int32?) throws(EBPFError) -> [USDTProbe] {
        try requireCompiler()
        let bcc = compiler
        return try withLock { () throws(EBPFError) -> [USDTProbe] in
            let context: UnsafeMutableRawPointer? =
                if let pid { bcc.bcc_usdt_new_frompid!(pid, path) } else { bcc.bcc_usdt_new_frompath!(path) }
            guard let context else {
                let what = pid.map { "process \($0)" + (path.map { " (\($0))" } ?? "") } ?? (path ?? "?")
                throw EBPFError(.notFound, "could not read the USDT probes of \(what); is it running and readable?")
            }
            defer { bcc.bcc_usdt_close!(context) }
            listed = []
            bcc.bcc_usdt_foreach!(context) { probe in
                guard let probe = probe?.pointee else { return }
                LibBCC.listed.append(
                    Listed(
                        provider: String(cString: probe.provider), name: String(cString: probe.name),
                        binaryPath: String(cString: probe.bin_path), semaphoreOffset: probe.semaphore_offset,
                        locations: probe.num_locations, arguments: probe.num_arguments))
            }
            defer { listed = [] }
            return listed.map { probe in
                var addresses: [UInt64] = []
                var sites: [[USDTArgument]] = []
                for site in 0..<probe.locations {
                    var location = bcc_usdt_location()
                    guard bcc.bcc_usdt_get_location!(context, probe.provider, probe.name, site, &location) == 0 else {
                        continue
                    }
                    addresses.append(location.address)
                    sites.append(
                        (0..<probe.arguments).compactMap { index in
                            usdtArgument(bcc, context, probe.provider, probe.name, site: site, index: index)
                                .flatMap { USDTArgument($0) }
                        })
                }
                // libbcc names a process's files through /proc/<pid>/root; users know them
                // by the path the process uses.
                let root = pid.map { "/proc/\($0)/root" }
                let seen =
                    if let root, probe.binaryPath.hasPrefix(root + "/") {
                        String(probe.binaryPath.dropFirst(root.count))
                    } else {
                        probe.binaryPath
                    }
                return USDTProbe(
                    provider: probe.provider, name: probe.name, binaryPath: seen, reachablePath: probe.binaryPath,
                    semaphoreOffset: probe.semaphoreOffset, addresses: addresses, argumentsBySite: sites)
            }
        }
    }

    /// Argument `index` at `site` of a probe, in the `bcc_usdt_argument` layout of the
    /// compiler library's release (``LibBCCRelease/usdtConstantIsInt``); nil when libbcc has
    /// none. libbcc writes into room for the larger layout, zeroed, whichever it is.
    private static func usdtArgument(
        _ bcc: cbcc_compiler, _ context: UnsafeMutableRawPointer, _ provider: String, _ name: String, site: Int32,
        index: Int32
    ) -> (any USDTArgumentLayout)? {
        func read<Layout: USDTArgumentLayout & BitwiseCopyable>(_: Layout.Type) -> Layout? {
            let room = max(
                MemoryLayout<cbcc_usdt_argument_long_constant>.size, MemoryLayout<cbcc_usdt_argument_int_constant>.size)
            return withUnsafeTemporaryAllocation(byteCount: room, alignment: 8) { buffer in
                buffer.initializeMemory(as: UInt8.self, repeating: 0)
                guard bcc.bcc_usdt_get_argument!(context, provider, name, site, index, buffer.baseAddress) == 0 else {
                    return nil
                }
                return buffer.load(as: Layout.self)
            }
        }
        let release = try? compilerLibrary.get().release
        return release?.usdtConstantIsInt == true
            ? read(cbcc_usdt_argument_int_constant.self) : read(cbcc_usdt_argument_long_constant.self)
    }
}

/// libbcc's `struct bcc_usdt_argument`, in either release's layout.
package protocol USDTArgumentLayout {
    init()
    var size: Int32 { get }
    var valid: Int32 { get }
    var constantValue: Int64 { get }
    var deref_offset: Int32 { get }
    var deref_ident: UnsafePointer<CChar>! { get }
    var base_register_name: UnsafePointer<CChar>! { get }
    var index_register_name: UnsafePointer<CChar>! { get }
    var scale: Int32 { get }
}

extension cbcc_usdt_argument_int_constant: USDTArgumentLayout {
    package var constantValue: Int64 { Int64(constant) }
}

extension cbcc_usdt_argument_long_constant: USDTArgumentLayout {
    package var constantValue: Int64 { Int64(constant) }
}

extension USDTArgument {
    /// The argument libbcc parsed from a note (`-4@%edi`, `8@-16(%rbp)`, `-4@$5`).
    fileprivate init?(_ raw: any USDTArgumentLayout) {
        let valid = raw.valid
        func has(_ flag: Int32) -> Bool { valid & flag != 0 }
        func text(_ pointer: UnsafePointer<CChar>?) -> String? { pointer.map { String(cString: $0) } }
        let size = Int(raw.size.magnitude)
        guard [1, 2, 4, 8].contains(size) else { return nil }
        let location: Location
        if has(BCC_USDT_ARGUMENT_CONSTANT) {
            location = .constant(raw.constantValue)
        } else if let base = has(BCC_USDT_ARGUMENT_BASE_REGISTER_NAME) ? text(raw.base_register_name) : nil {
            if has(BCC_USDT_ARGUMENT_DEREF_IDENT), let symbol = text(raw.deref_ident) {
                location = .global(
                    symbol: symbol, offset: has(BCC_USDT_ARGUMENT_DEREF_OFFSET) ? Int(raw.deref_offset) : 0)
            } else if has(BCC_USDT_ARGUMENT_DEREF_OFFSET) {
                let index = has(BCC_USDT_ARGUMENT_INDEX_REGISTER_NAME) ? text(raw.index_register_name) : nil
                location = .memory(
                    base: base, offset: Int(raw.deref_offset), index: index,
                    scale: has(BCC_USDT_ARGUMENT_SCALE) ? Int(raw.scale) : 1)
            } else {
                location = .register(base)
            }
        } else {
            return nil
        }
        self.init(size: size, isSigned: raw.size < 0, location: location)
    }
}
