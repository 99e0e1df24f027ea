internal import CBCC

#if canImport(Glibc)
import Glibc
#endif

/// Every call into libbcc, in one thin layer.
///
/// libbcc's C API changes between releases (`bcc_func_load` gained a parameter between 0.20
/// and 0.26), so the rest of the module calls these Swift functions and never a C symbol.
/// Each function returns what the C call returned plus `errno` read right after it.
enum LibBCC {
    /// A compiled libbcc module (`ebpf::BPFModule *`).
    typealias Module = UnsafeMutableRawPointer

    /// The result of a call that reports failure by a negative return and `errno`.
    struct Result {
        var value: Int32
        var errno: Int32
        var failed: Bool { value < 0 }
    }

    // MARK: Modules

    /// Compiles BPF C text. Not thread-safe: callers hold ``BPFModule``'s compile lock.
    static func createModule(text: String, cflags: [String]) -> (Module?, Int32) {
        var cStrings = cflags.map { strdup($0) }
        defer { cStrings.forEach { free($0) } }
        return cStrings.withUnsafeMutableBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(
                to: UnsafePointer<CChar>?.self, capacity: max(buffer.count, 1)
            ) { flags in
                Glibc.errno = 0
                let module = bpf_module_create_c_from_string(
                    text, 0, buffer.isEmpty ? nil : flags, Int32(buffer.count), true, nil)
                return (module, Glibc.errno)
            }
        }
    }

    static func destroyModule(_ module: Module) {
        bpf_module_destroy(module)
    }

    static func functionNames(_ module: Module) -> [String] {
        (0..<bpf_num_functions(module)).compactMap { index in
            bpf_function_name(module, index).map { String(cString: $0) }
        }
    }

    static func hasFunction(_ module: Module, _ name: String) -> Bool {
        bpf_function_start(module, name) != nil
    }

    /// Loads one function of a compiled module into the kernel. With `logLevel` 0, libbcc
    /// retries a failed load with logging into `log` for most errors, but not E2BIG; with
    /// `logLevel` 1 the kernel writes its verifier log into `log` on the first attempt.
    static func loadFunction(
        _ module: Module, name: String, programType: ProgramType, logLevel: Int32, log: inout [CChar]
    ) -> Result {
        let start = bpf_function_start(module, name)
        let size = bpf_function_size(module, name)
        let license = bpf_module_license(module)
        let version = bpf_module_kern_version(module)
        let count = UInt32(log.count)
        return log.withUnsafeMutableBufferPointer { buffer in
            Glibc.errno = 0
            let fd = bcc_func_load(
                module, programType.rawValue, name, start?.assumingMemoryBound(to: bpf_insn.self),
                Int32(size), license, version, logLevel, buffer.baseAddress, count, nil, -1)
            return Result(value: fd, errno: Glibc.errno)
        }
    }

    // MARK: Tables

    static func tableNames(_ module: Module) -> [String] {
        (0..<bpf_num_tables(module)).compactMap { index in
            bpf_table_name(module, index).map { String(cString: $0) }
        }
    }

    /// The table's file descriptor, or nil when the module has no such table.
    static func tableFD(_ module: Module, _ name: String) -> Int32? {
        let fd = bpf_table_fd(module, name)
        return fd < 0 ? nil : fd
    }

    static func tableType(_ module: Module, _ name: String) -> Int32 {
        bpf_table_type(module, name)
    }

    static func tableKeySize(_ module: Module, _ name: String) -> Int {
        bpf_table_key_size(module, name)
    }

    static func tableLeafSize(_ module: Module, _ name: String) -> Int {
        bpf_table_leaf_size(module, name)
    }

    static func tableMaxEntries(_ module: Module, _ name: String) -> Int {
        bpf_table_max_entries(module, name)
    }

    static func tableKeyDescription(_ module: Module, _ name: String) -> String? {
        bpf_table_key_desc(module, name).map { String(cString: $0) }
    }

    static func tableLeafDescription(_ module: Module, _ name: String) -> String? {
        bpf_table_leaf_desc(module, name).map { String(cString: $0) }
    }

    /// The fields libbcc recorded for the struct submitted to a perf or ring buffer table,
    /// as `name#type` strings (`pid#u32`, `comm#char[16]`).
    static func submittedFields(_ module: Module, table: String) -> [String] {
        (0..<bpf_perf_event_fields(module, table)).compactMap { index in
            bpf_perf_event_field(module, table, index).map { String(cString: $0) }
        }
    }

    static func updateElement(
        fd: Int32, key: UnsafeMutableRawPointer, value: UnsafeMutableRawPointer
    ) -> Result {
        Glibc.errno = 0
        let rc = bpf_update_elem(fd, key, value, 0)
        return Result(value: rc, errno: Glibc.errno)
    }

    // MARK: Attaching

    static func attachTracepoint(programFD: Int32, category: String, name: String) -> Result {
        Glibc.errno = 0
        let fd = bpf_attach_tracepoint(programFD, category, name)
        return Result(value: fd, errno: Glibc.errno)
    }

    static func attachRawTracepoint(programFD: Int32, name: String) -> Result {
        Glibc.errno = 0
        let fd = bpf_attach_raw_tracepoint(programFD, name)
        return Result(value: fd, errno: Glibc.errno)
    }

    static func attachKprobe(
        programFD: Int32, isReturn: Bool, eventName: String, function: String, offset: UInt64
    ) -> Result {
        Glibc.errno = 0
        let fd = bpf_attach_kprobe(
            programFD, isReturn ? BPF_PROBE_RETURN : BPF_PROBE_ENTRY, eventName, function,
            offset, 0)
        return Result(value: fd, errno: Glibc.errno)
    }

    static func detachKprobe(eventName: String) {
        _ = bpf_detach_kprobe(eventName)
    }

    static func attachUprobe(
        programFD: Int32, isReturn: Bool, eventName: String, binaryPath: String, offset: UInt64,
        pid: Int32
    ) -> Result {
        Glibc.errno = 0
        let fd = bpf_attach_uprobe(
            programFD, isReturn ? BPF_PROBE_RETURN : BPF_PROBE_ENTRY, eventName, binaryPath,
            offset, pid, 0)
        return Result(value: fd, errno: Glibc.errno)
    }

    static func detachUprobe(eventName: String) {
        _ = bpf_detach_uprobe(eventName)
    }

    static func attachPerfEvent(
        programFD: Int32, type: UInt32, config: UInt32, samplePeriod: UInt64,
        sampleFrequency: UInt64, pid: Int32, cpu: Int32
    ) -> Result {
        Glibc.errno = 0
        let fd = bpf_attach_perf_event(
            programFD, type, config, samplePeriod, sampleFrequency, pid, cpu, -1)
        return Result(value: fd, errno: Glibc.errno)
    }

    /// Disables and closes a perf event file descriptor returned by an attach call.
    static func closePerfEvent(_ fd: Int32) {
        _ = bpf_close_perf_event_fd(fd)
    }

    // MARK: Symbols

    /// Resolves `symbol` in `module` (a path or a library name such as "c") to the file that
    /// holds it and the symbol's offset in that file.
    static func resolveSymbol(module: String, symbol: String, pid: Int32) -> (
        path: String, offset: UInt64
    )? {
        var resolved = bcc_symbol()
        guard bcc_resolve_symname(module, symbol, 0, pid, nil, &resolved) == 0 else {
            if let path = resolved.module { bcc_procutils_free(path) }
            return nil
        }
        defer { if let path = resolved.module { bcc_procutils_free(path) } }
        guard let path = resolved.module else { return nil }
        return (String(cString: path), resolved.offset)
    }

    /// The path of a shared library by name ("c" finds libc.so.6), as the dynamic loader would.
    static func whichLibrary(_ name: String, pid: Int32) -> String? {
        guard let path = bcc_procutils_which_so(name, pid) else { return nil }
        defer { free(path) }
        return String(cString: path)
    }
}
