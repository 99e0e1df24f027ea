internal import CBCC

#if canImport(Glibc)
import Glibc
#endif

/// libbcc's two libraries, each opened on first use (see `Sources/CBCC/CBCC.h`).
extension LibBCC {
    /// A library could not be opened.
    package struct Unavailable: Error, Equatable {
        package let library: String
        package let reason: String

        /// The public error: what is missing and how to install it.
        package func error(_ purpose: String) -> EBPFError {
            EBPFError(
                .notSupported,
                "libbcc's \(library) could not be opened (\(reason)); it is needed \(purpose): \(LibBCCRelease.upgradeAdvice)",
                call: "dlopen")
        }
    }

    /// An opened library: its handle (never closed), the functions looked up in it, and its
    /// release as its file names it.
    package struct Opened<Functions>: @unchecked Sendable {
        // @unchecked Sendable: the handle is only passed to dlsym(3), which is thread-safe.
        package let handle: UnsafeMutableRawPointer
        package let functions: Functions
        package let release: LibBCCRelease?
    }

    /// libbcc_bpf.so: attaching, maps and (from 0.21) symbols, without the compiler.
    static let runtimeLibrary: Result<Opened<cbcc_runtime>, Unavailable> = {
        let file = "libbcc_bpf.so.0"
        return open(file).flatMap { handle in
            var functions = cbcc_runtime()
            if let missing = cbcc_runtime_load(handle, &functions) {
                return .failure(Unavailable(library: file, reason: "it has no function \(String(cString: missing))"))
            }
            let release = ProcessMappings.current().file(containing: "/libbcc_bpf.so").flatMap(
                LibBCCRelease.init(libraryFile:))
            return .success(Opened(handle: handle, functions: functions, release: release))
        }
    }()

    /// The file the dynamic loader mapped for libbcc_bpf.so (symbolic links resolved).
    package static let runtimeLibraryFile: String? = {
        guard case .success = runtimeLibrary else { return nil }
        return ProcessMappings.current().file(containing: "/libbcc_bpf.so")
    }()

    /// The release loaded, from its file's name; nil when the name carries no version.
    package static var release: LibBCCRelease? { try? runtimeLibrary.get().release }

    /// The runtime functions; every ``EBPFWrapper`` checked at its creation
    /// (``requireRuntime()``) that they are there.
    static var runtime: cbcc_runtime {
        switch runtimeLibrary {
        case .success(let opened): return opened.functions
        case .failure(let failure): preconditionFailure("\(failure.error("for BPF"))")
        }
    }

    /// - Throws: ``EBPFError/Code/notSupported`` when libbcc_bpf.so cannot be opened, or is
    ///   a release older than ``LibBCCRelease/oldestSupported`` (naming both).
    package static func requireRuntime() throws(EBPFError) {
        if case .failure(let failure) = runtimeLibrary { throw failure.error("to attach probes and read maps") }
        if let release, let refusal = release.refusal(file: runtimeLibraryFile ?? "libbcc_bpf.so.0") { throw refusal }
    }

    /// libbcc.so, the compiler: taken from the directory libbcc_bpf.so was opened from, so
    /// both halves are of one installation and the compile cache's key names the file that
    /// compiles.
    package static let compilerLibraryFile: String = {
        guard let path = runtimeLibraryFile, let slash = path.lastIndex(of: "/") else { return "libbcc.so.0" }
        return path[..<slash] + "/libbcc.so.0"
    }()

    /// The compiler's functions, or why they could not be opened. Loading it maps clang and
    /// LLVM; it is never closed (LLVM's static destructors must not run while the process
    /// lives).
    /// Its release is read from its own file (the one `libbcc.so.0` leads to), since its calls
    /// and layouts are the ones to match; where that names none, libbcc_bpf.so's, and where
    /// neither does, the newest layouts are assumed.
    static let compilerLibrary: Result<Opened<cbcc_compiler>, Unavailable> = open(compilerLibraryFile).flatMap {
        handle in
        let release =
            ProcessMappings.current().file(containing: "/libbcc.so.").flatMap(LibBCCRelease.init(libraryFile:))
            ?? LibBCC.release
        var functions = cbcc_compiler()
        if let missing = cbcc_compiler_load(handle, &functions, release?.functionLoadArguments ?? 12) {
            return .failure(
                Unavailable(library: compilerLibraryFile, reason: "it has no function \(String(cString: missing))"))
        }
        return .success(Opened(handle: handle, functions: functions, release: release))
    }

    /// The compiler's functions; callers checked ``requireCompiler()``.
    static var compiler: cbcc_compiler {
        switch compilerLibrary {
        case .success(let opened): return opened.functions
        case .failure(let failure): preconditionFailure("\(failure.error("to compile"))")
        }
    }

    /// Opens the compiler library if it is not yet.
    ///
    /// - Throws: ``EBPFError/Code/notSupported`` when it cannot be opened.
    package static func requireCompiler() throws(EBPFError) {
        if case .failure(let failure) = compilerLibrary { throw failure.error("to compile BPF C") }
    }

    /// The symbol and shared-library functions: libbcc_bpf.so's from 0.21; before, only
    /// libbcc.so has them, so there they cost the compiler's mapping.
    static let symbolLibrary: Result<cbcc_symbols, Unavailable> = {
        var functions = cbcc_symbols()
        if case .success(let runtime) = runtimeLibrary, cbcc_symbols_load(runtime.handle, &functions) == nil {
            return .success(functions)
        }
        return compilerLibrary.flatMap { compiler in
            if let missing = cbcc_symbols_load(compiler.handle, &functions) {
                return .failure(
                    Unavailable(library: compilerLibraryFile, reason: "it has no function \(String(cString: missing))"))
            }
            return .success(functions)
        }
    }()

    /// The symbol functions; nil when no libbcc library has them (then nothing resolves).
    static var symbols: cbcc_symbols? { try? symbolLibrary.get() }

    private static func open(_ file: String) -> Result<UnsafeMutableRawPointer, Unavailable> {
        guard let handle = dlopen(file, RTLD_NOW | RTLD_LOCAL) else {
            return .failure(
                Unavailable(library: file, reason: dlerror().map { String(cString: $0) } ?? "unknown error"))
        }
        return .success(handle)
    }
}
