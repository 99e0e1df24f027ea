import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One program compiled by libbcc: its functions (loaded on first use) and its tables.
///
/// Owns the libbcc module and the file descriptors of the functions it loaded; both are
/// released in `deinit`, after everything that used them (attachments, buffers) is gone.
final class BPFModule: @unchecked Sendable {
    // @unchecked Sendable: `raw` never changes after init and is used only under
    // `libbccLock`; the one mutable cache is behind a Lock.

    /// Every call that touches a libbcc module takes this process-wide lock:
    /// - libbcc's compiler (clang inside) is not thread-safe (bcc #4500);
    /// - every module shares one process-global table storage (`SharedTableStorage`, a
    ///   `std::map`) that creating and destroying modules change and table queries read, with
    ///   no lock of its own: two modules destroyed at once on two threads is a use-after-free
    ///   inside `bpf_module_destroy` (found by AddressSanitizer);
    /// - compiles and loads redirect the process's stdout and stderr (``OutputCapture``).
    ///
    /// It guards a count of the calls made rather than `()`: a zero-sized guarded value
    /// would share its address with the lock's own pointer, which ThreadSanitizer's
    /// exclusivity checks then report as a race.
    static let libbccLock = Lock(0)

    /// Runs `body` with the module under ``libbccLock``. Not reentrant: `body` must not call
    /// back into this class.
    private func withModule<T>(_ body: (LibBCC.Module) throws(EBPFError) -> T) throws(EBPFError) -> T {
        try Self.libbccLock.withLock { (calls) throws(EBPFError) -> T in
            calls += 1
            return try body(raw)
        }
    }

    private func withModule<T>(_ body: (LibBCC.Module) -> T) -> T {
        Self.libbccLock.withLock { calls in
            calls += 1
            return body(raw)
        }
    }

    private let raw: LibBCC.Module
    private let loadedFunctions = Lock<[String: Int32]>([:])

    /// Compiles BPF C text with libbcc.
    ///
    /// - Throws: ``EBPFError/Code/compilationFailed`` with clang's diagnostics,
    ///   ``EBPFError/Code/kernelHeadersMissing`` or ``EBPFError/Code/permissionDenied``.
    init(text: String, cflags: [String]) throws(EBPFError) {
        for flag in cflags where flag.utf8.contains(where: { $0 < 0x20 }) {
            throw EBPFError(
                .invalidArgument,
                "the compiler flag \(NameValidation.quoted(flag)) contains control characters")
        }
        let (module, errno, captured) = Self.libbccLock.withLock { calls in
            calls += 1
            let (outcome, output) = OutputCapture.run {
                LibBCC.createModule(text: text, cflags: cflags)
            }
            return (outcome.0, outcome.1, output)
        }
        guard let module else {
            throw Self.compileError(output: captured.combined, errno: errno)
        }
        captured.forward()
        raw = module
    }

    deinit {
        for fd in loadedFunctions.withLock({ Array($0.values) }) {
            close(fd)
        }
        withModule { LibBCC.destroyModule($0) }
    }

    var functionNames: [String] { withModule { LibBCC.functionNames($0) } }
    var tableNames: [String] { withModule { LibBCC.tableNames($0) } }

    /// Loads `name` as a program of `type` and returns its file descriptor; a function is
    /// loaded once per module and type, like bcc's `load_func`.
    ///
    /// - Throws: ``EBPFError/Code/functionNotFound``, or ``EBPFError/Code/loadFailed`` with
    ///   the verifier log.
    func loadFunction(_ name: String, type: ProgramType) throws(EBPFError) -> Int32 {
        try NameValidation.identifier(name, what: "function name")
        let key = "\(type.rawValue):\(name)"
        if let fd = loadedFunctions.withLock({ $0[key] }) { return fd }
        guard withModule({ LibBCC.hasFunction($0, name) }) else {
            let known = functionNames.joined(separator: ", ")
            throw EBPFError(
                .functionNotFound,
                "the program has no function named '\(name)' (it has: \(known.isEmpty ? "none" : known)); pass the name of a function defined in the BPF C text as fnName"
            )
        }
        var log = [CChar](repeating: 0, count: 1 << 20)
        var (result, hints) = withModule { module in
            OutputCapture.run { LibBCC.loadFunction(module, name: name, programType: type, logLevel: 0, log: &log) }
        }
        var verifierLog = log.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        if result.failed, verifierLog.isEmpty, result.errno != EPERM {
            // libbcc gives up on some errors (E2BIG) without asking the kernel for its log.
            let errno = result.errno
            (result, hints) = withModule { module in
                OutputCapture.run { LibBCC.loadFunction(module, name: name, programType: type, logLevel: 1, log: &log) }
            }
            verifierLog = log.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            if result.failed { result.errno = errno }
        }
        guard !result.failed else {
            let diagnostics = [verifierLog, hints.combined].filter { !$0.isEmpty }
                .joined(separator: "\n")
            // EPERM is missing privileges; EACCES with a log is the verifier saying no.
            if result.errno == EPERM || (result.errno == EACCES && verifierLog.isEmpty) {
                throw EBPFError.fromErrno(
                    .loadFailed, "could not load '\(name)' as a \(type) program", call: "bcc_func_load",
                    errno: result.errno)
            }
            throw EBPFError(
                .loadFailed,
                "the kernel rejected '\(name)' as a \(type) program; the verifier log below says why",
                call: "bcc_func_load", errno: result.errno,
                diagnostics: diagnostics.isEmpty ? nil : diagnostics)
        }
        hints.forward()
        return loadedFunctions.withLock { cache in
            if let existing = cache[key] {
                close(result.value)
                return existing
            }
            cache[key] = result.value
            return result.value
        }
    }

    /// What libbcc knows of a table, or a ``EBPFError/Code/tableNotFound`` error.
    func table(_ name: String) throws(EBPFError) -> TableInfo {
        try NameValidation.identifier(name, what: "table name")
        let info: TableInfo? = withModule { module in
            guard let fd = LibBCC.tableFD(module, name) else { return nil }
            return TableInfo(
                name: name, fd: fd, type: TableType(rawValue: LibBCC.tableType(module, name)),
                keySize: LibBCC.tableKeySize(module, name), leafSize: LibBCC.tableLeafSize(module, name),
                maxEntries: LibBCC.tableMaxEntries(module, name),
                keyDescription: LibBCC.tableKeyDescription(module, name),
                leafDescription: LibBCC.tableLeafDescription(module, name),
                submittedFields: LibBCC.submittedFields(module, table: name))
        }
        guard let info else {
            let known = tableNames.joined(separator: ", ")
            throw EBPFError(
                .tableNotFound,
                "the program has no table named '\(name)' (it has: \(known.isEmpty ? "none" : known)); declare it in the BPF C text, e.g. BPF_PERF_OUTPUT(\(name));"
            )
        }
        return info
    }

    private static func compileError(output: String, errno: Int32) -> EBPFError {
        // libbcc prints this (on stdout) when it finds no headers tree, and `chdir(<tree>)`
        // when BCC_KERNEL_SOURCE names one that does not exist.
        if output.contains("Unable to find kernel headers") || (errno == ENOENT && output.contains("chdir(")) {
            return EBPFError(
                .kernelHeadersMissing,
                "libbcc found no kernel headers for this kernel. Run scripts/setup-host.sh as root, or install linux-headers-$(uname -r) so that /lib/modules/$(uname -r)/build exists, or set BCC_KERNEL_SOURCE to a headers tree",
                call: "bpf_module_create_c_from_string", errno: errno, diagnostics: output)
        }
        if errno == EPERM || output.contains("Operation not permitted") {
            return EBPFError(
                .permissionDenied,
                "the program compiled but its maps could not be created: BPF needs root, or CAP_BPF with CAP_PERFMON",
                call: "bpf_module_create_c_from_string", errno: EPERM, diagnostics: output)
        }
        let firstError = output.split(separator: "\n").first { $0.contains("error:") }
        let summary = firstError.map { ": \($0)" } ?? ""
        return EBPFError(
            .compilationFailed,
            "the BPF C text did not compile\(summary)",
            call: "bpf_module_create_c_from_string", errno: errno,
            diagnostics: output.isEmpty ? nil : output)
    }
}

/// What libbcc recorded about one table (map) of a compiled program.
struct TableInfo: Sendable {
    var name: String
    var fd: Int32
    var type: TableType
    var keySize: Int
    var leafSize: Int
    var maxEntries: Int
    var keyDescription: String?
    var leafDescription: String?
    /// `name#type` of the struct the program submits to this table, if it is a perf or ring
    /// buffer that libbcc saw `perf_submit`/`ringbuf_output`/`ringbuf_submit` called on.
    var submittedFields: [String]
}
