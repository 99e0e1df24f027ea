import Synchronization

#if canImport(Glibc)
import Glibc
#endif
import EBPFKernel

/// One program, compiled by libbcc or loaded from a ``CompileCache`` entry: its functions
/// (loaded on first use) and its tables.
///
/// Owns the libbcc module (or the kept program's maps) and the descriptors of the functions
/// it loaded. ``close()`` frees them at once, whoever still holds a reference (table views,
/// buffers, probes); after it every use throws ``EBPFError/Code/closed``. Every use runs
/// under the module's own lock, so `close()` waits for a map call in progress and a
/// descriptor number is never used after it was closed (and perhaps reused by another open).
package final class BPFModule: Sendable {
    /// A function loaded into the kernel; its descriptor closes with it.
    private final class LoadedProgram: Sendable {
        package let descriptor: FileDescriptor
        package init(_ descriptor: consuming FileDescriptor) { self.descriptor = descriptor }
    }

    /// Where the program came from: what loads its functions. Only a compiled module's load
    /// goes through libbcc (under ``LibBCC/lock``); its names and tables are in the module's
    /// ``LibBCC/Catalog``, read when it was made, so table operations never wait for a compile.
    private enum Source: ~Copyable, Sendable {
        case compiled(LibBCC.Module)
        case kept(KeptProgram)

        /// Whether loading goes through libbcc, which prints hints to stdout and stderr; a
        /// kept program is loaded with bpf(2) alone and prints nothing.
        package var printsWhileLoading: Bool {
            switch self {
            case .compiled: return true
            case .kept: return false
            }
        }

        /// Runs `body` with the descriptor of `table`, one of the program's.
        package func lend<T>(
            _ table: LibBCC.Catalog.Table, _ body: (borrowing BorrowedDescriptor) throws(EBPFError) -> T
        ) throws(EBPFError) -> T {
            switch self {
            case .compiled(let module): return try module.lend(table, body)
            case .kept(let program): return try program.lend(table, body)
            }
        }

        /// Loads `name` as `type`, for `target` when given; else a tracing or LSM program
        /// for the kernel function its name gives, found in the kernel's BTF
        /// (``BTFProgramNaming``).
        package func loadFunction(
            _ name: String, type: ProgramType, target: BPFObjectCalls.LoadTarget?, logLevel: Int32,
            log: VerifierLogBuffer
        ) throws(SystemCallFailure) -> FileDescriptor {
            let target = target ?? BPFObjectCalls.LoadTarget.named(name, programType: type.rawValue)
            switch self {
            case .compiled(let module):
                return try module.loadFunction(
                    name, programType: type.rawValue, logLevel: logLevel, log: log, target: target)
            case .kept(let program):
                return try program.loadFunction(
                    name, programType: type.rawValue, logLevel: logLevel, log: log, target: target)
            }
        }
    }

    private struct Contents: ~Copyable, Sendable {
        package var module: Source
        /// The module's functions and tables, as they stay while it lives.
        package let catalog: LibBCC.Catalog
        package var loaded: [String: LoadedProgram] = [:]
        /// One verifier log for all of the module's loads (they run under its lock): 1 MiB
        /// allocated per load was an `mmap` and a `munmap` each, which wait for any other
        /// thread's `mmap` of perf rings (the process's memory-map lock).
        package var log: VerifierLogBuffer?

        package mutating func verifierLog() -> VerifierLogBuffer {
            if let log { return log }
            let log = VerifierLogBuffer()
            self.log = log
            return log
        }
    }

    /// Whether the program was loaded from a cache entry rather than compiled.
    package let isFromCache: Bool

    /// nil once closed. Lock order: this lock, then ``LibBCC/lock`` (taken only to load a
    /// compiled module's function).
    private let contents: Lock<Contents?>

    /// How many programs this process has compiled: what tests of compile sharing count.
    package static let compileCount = Atomic<Int>(0)

    /// Loads the program from `cache` when it holds an entry for exactly this text, these
    /// flags, this kernel and its headers, and this libbcc, and its maps can be created;
    /// otherwise (deliberately, so that the compile reports what is wrong) compiles it with libbcc,
    /// gives the compiler's memory back (``CompilerMemory/release()``) and stores it in `cache`.
    ///
    /// - Throws: ``EBPFError/Code/invalidArgument`` for a flag ``CompilerFlags`` refuses,
    ///   ``EBPFError/Code/compilationFailed`` with clang's diagnostics,
    ///   ``EBPFError/Code/kernelHeadersMissing`` or ``EBPFError/Code/permissionDenied``.
    package init(text: String, cflags: [String], cache: CompileCache? = nil) throws(EBPFError) {
        try CompilerFlags.validate(cflags)
        let cache = CompileCache.canKeep(text: text) ? cache : nil
        let key = cache.map { _ in CompileCache.key(text: text, cflags: cflags) }
        if let cache, let key, let object = cache.entry(for: key), let program = try? KeptProgram(object) {
            // No compile: the compiler library stays unloaded.
            isFromCache = true
            contents = Lock(Contents(module: .kept(program), catalog: program.catalog))
            return
        }
        try LibBCC.requireCompiler()
        var compiled: LibBCC.Module?
        var errno: Int32 = 0
        let output = LibBCC.withLock {
            OutputCapture.capture {
                do throws(SystemCallFailure) {
                    compiled = try LibBCC.Module.compile(text: text, cflags: cflags)
                    // The program is built; the compiler's code and heap are not needed until the next compile.
                    CompilerMemory.release()
                } catch {
                    errno = error.errno
                }
            }
        }
        // Written back out either way: what other threads wrote in the window is delayed, not lost.
        output.forward()
        guard let module = compiled.take() else {
            throw Self.compileError(output: output.combined, errno: errno)
        }
        Self.compileCount.add(1, ordering: .relaxed)
        let (object, catalog) = LibBCC.withLock {
            (cache != nil ? try? module.compiledObject() : nil, module.catalog())
        }
        if let cache, let key, let object { cache.store(object, for: key) }
        isFromCache = false
        contents = Lock(Contents(module: .compiled(module), catalog: catalog))
    }

    /// A program built without compiling (``ProbeEmitter``): creates its maps.
    ///
    /// - Throws: ``EBPFError/Code/permissionDenied`` without the privileges maps need.
    package init(emitted object: CompiledObject) throws(EBPFError) {
        do throws(SystemCallFailure) {
            let program = try KeptProgram(object)
            contents = Lock(Contents(module: .kept(program), catalog: program.catalog))
        } catch {
            throw error.error(.systemCallFailed, "could not create the maps of a generated probe")
        }
        isFromCache = false
    }

    /// Frees the program: the loaded functions' descriptors and the libbcc module with its
    /// maps. Idempotent.
    package func close() {
        // Taken out under the lock, destroyed outside it (the module's deinit takes LibBCC.lock).
        let taken = contents.withLock { $0.take() }
        _ = consume taken
    }

    /// Runs `body` with the open module under its lock, or throws ``EBPFError/Code/closed``.
    private func withContents<T: ~Copyable>(
        _ body: (inout Contents) throws(EBPFError) -> T
    ) throws(EBPFError) -> T {
        try contents.withLock { (contents) throws(EBPFError) -> T in
            guard var open = contents.take() else {
                throw EBPFError(
                    .closed, "this program was freed (its EBPFWrapper or probe was closed); create a new one")
            }
            do throws(EBPFError) {
                let value = try body(&open)
                contents = consume open
                return value
            } catch {
                contents = consume open
                throw error
            }
        }
    }

    /// - Throws: ``EBPFError/Code/closed`` once freed.
    package var functionNames: [String] {
        get throws(EBPFError) { try withContents { $0.catalog.functionNames } }
    }
    /// - Throws: ``EBPFError/Code/closed`` once freed.
    package var tableNames: [String] {
        get throws(EBPFError) { try withContents { $0.catalog.tables.map(\.info.name) } }
    }

    /// Loads `name` as a program of `type` (once per module, type and target, like bcc's
    /// `load_func`), for `target` where the kernel wants told at load where the program
    /// attaches, and runs `body` with its descriptor, lent for the call.
    ///
    /// - Throws: ``EBPFError/Code/functionNotFound``, or ``EBPFError/Code/loadFailed`` with
    ///   the verifier log; what `body` throws.
    package func withFunction<T: ~Copyable>(
        _ name: String, type: ProgramType, target: BPFObjectCalls.LoadTarget? = nil,
        _ body: (borrowing BorrowedDescriptor) throws(EBPFError) -> T
    ) throws(EBPFError) -> T {
        try NameValidation.identifier(name, what: "function name")
        let key = "\(type.rawValue):\(target.map { "\($0.attachType).\($0.btfID)" } ?? "-"):\(name)"
        return try withContents { (contents) throws(EBPFError) -> T in
            if let loaded = contents.loaded[key] { return try loaded.descriptor.lend(body) }
            guard contents.catalog.functionNames.contains(name) else {
                let known = contents.catalog.functionNames.joined(separator: ", ")
                throw EBPFError(
                    .functionNotFound,
                    "the program has no function named '\(name)' (it has: \(known.isEmpty ? "none" : known)); pass the name of a function defined in the BPF C text as fnName"
                )
            }
            let log = contents.verifierLog()
            let loaded = LoadedProgram(
                try Self.load(contents.module, name, type: type, target: target, log: log))
            contents.loaded[key] = loaded
            return try loaded.descriptor.lend(body)
        }
    }

    /// Loads function `name` as a `type` program now, so a later ``withFunction(_:type:target:_:)``
    /// finds it loaded.
    package func preload(_ name: String, type: ProgramType) throws(EBPFError) {
        try withFunction(name, type: type) { _ in }
    }

    /// Loads a function, retrying for the verifier log where libbcc gave up without one.
    private static func load(
        _ module: borrowing Source, _ name: String, type: ProgramType, target: BPFObjectCalls.LoadTarget?,
        log: VerifierLogBuffer
    ) throws(EBPFError) -> FileDescriptor {
        log.clear()
        /// One load; what libbcc printed meanwhile goes into `hints`.
        func attempt(logLevel: Int32, hints: inout OutputCapture.Output) -> Result<FileDescriptor, SystemCallFailure> {
            func load() -> Result<FileDescriptor, SystemCallFailure> {
                Result { () throws(SystemCallFailure) in
                    try module.loadFunction(
                        name, type: type, target: target, logLevel: logLevel, log: log)
                }
            }
            // A kept program's load is bpf(2) alone: it prints nothing and waits for no compile.
            guard module.printsWhileLoading else { return load() }
            // A compiled module's goes through libbcc, which prints: under its lock, which a
            // redirect of the process's output needs (``OutputCapture``). Capturing costs two
            // pipes and two reader threads: only here.
            var result: Result<FileDescriptor, SystemCallFailure>?
            hints = LibBCC.withLock { OutputCapture.capture { result = load() } }
            // Written back out either way: what other threads wrote in the window is delayed, not lost.
            hints.forward()
            return result.take()!
        }
        var hints = OutputCapture.Output()
        var result = attempt(logLevel: 0, hints: &hints)
        var verifierLog = log.text
        if let failure = result.failure, verifierLog.isEmpty, failure.errno != EPERM {
            // libbcc gives up on some errors (E2BIG) without asking the kernel for its log.
            result = attempt(logLevel: 1, hints: &hints)
            verifierLog = log.text
            if result.failure != nil { result = .failure(failure) }
        }
        switch consume result {
        case .success(let descriptor):
            return descriptor
        case .failure(let failure):
            let diagnostics = [verifierLog, hints.combined].filter { !$0.isEmpty }.joined(separator: "\n")
            // EPERM is missing privileges; EACCES with a log is the verifier saying no.
            if failure.errno == EPERM || (failure.errno == EACCES && verifierLog.isEmpty) {
                throw failure.error(.loadFailed, "could not load '\(name)' as a \(type) program")
            }
            throw EBPFError(
                .loadFailed,
                "the kernel rejected '\(name)' as a \(type) program; the verifier log below says why",
                call: failure.call, errno: failure.errno,
                diagnostics: diagnostics.isEmpty ? nil : diagnostics)
        }
    }

    /// What libbcc knows of a table, or a ``EBPFError/Code/tableNotFound`` error.
    package func table(_ name: String) throws(EBPFError) -> TableInfo {
        try NameValidation.identifier(name, what: "table name")
        return try withContents { (contents) throws(EBPFError) -> TableInfo in
            guard let info = contents.catalog.tables.first(where: { $0.info.name == name })?.info else {
                let known = contents.catalog.tables.map(\.info.name).joined(separator: ", ")
                throw EBPFError(
                    .tableNotFound,
                    "the program has no table named '\(name)' (it has: \(known.isEmpty ? "none" : known)); declare it in the BPF C text, e.g. BPF_PERF_OUTPUT(\(name));"
                )
            }
            return info
        }
    }

    /// Runs `body` with table `name`'s descriptor, lent for the call.
    package func withTable<T>(
        _ name: String, _ body: (borrowing BorrowedDescriptor) throws(EBPFError) -> T
    ) throws(EBPFError) -> T {
        try withContents { (contents) throws(EBPFError) -> T in
            guard let table = contents.catalog.tables.first(where: { $0.info.name == name }) else {
                throw EBPFError(.tableNotFound, "the program has no table named '\(name)'")
            }
            return try contents.module.lend(table, body)
        }
    }

    private static func compileError(output: String, errno: Int32) -> EBPFError {
        // libbcc prints this (on stdout) when it finds no headers tree, and `chdir(<tree>)`
        // when BCC_KERNEL_SOURCE names one that does not exist.
        if output.contains("Unable to find kernel headers") || (errno == ENOENT && output.contains("chdir(")) {
            return EBPFError(
                .kernelHeadersMissing,
                "libbcc found no kernel headers for this kernel: install them from your distribution (Debian and Ubuntu: apt-get install linux-headers-$(uname -r); Fedora: dnf install kernel-devel-$(uname -r)) so that /lib/modules/$(uname -r)/build exists, or set BCC_KERNEL_SOURCE to a headers tree",
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

extension Result where Success: ~Copyable {
    /// The failure, if it is one (without consuming a noncopyable success).
    fileprivate var failure: Failure? {
        switch self {
        case .success: return nil
        case .failure(let failure): return failure
        }
    }
}
