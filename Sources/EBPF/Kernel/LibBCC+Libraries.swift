internal import CBCC

#if canImport(Glibc)
import Glibc
#endif

/// libbcc's two libraries, each opened on first use (see `Sources/CBCC/CBCC.h`).
extension LibBCC {
    /// A library could not be opened.
    struct Unavailable: Error, Equatable {
        let library: String
        let reason: String

        /// The public error: what is missing and how to install it.
        func error(_ purpose: String) -> EBPFError {
            EBPFError(
                .notSupported,
                "libbcc's \(library) could not be opened (\(reason)); it is needed \(purpose): install Debian's libbpfcc, as scripts/setup-host.sh does",
                call: "dlopen")
        }
    }

    /// libbcc_bpf.so: attaching, maps and symbols, without the compiler.
    static let runtimeLibrary: Result<cbcc_runtime, Unavailable> = open("libbcc_bpf.so.0", cbcc_runtime_load)

    /// The runtime functions; every ``EBPFWrapper`` checked at its creation
    /// (``requireRuntime()``) that they are there.
    static var runtime: cbcc_runtime {
        switch runtimeLibrary {
        case .success(let functions): return functions
        case .failure(let failure): preconditionFailure("\(failure.error("for BPF"))")
        }
    }

    /// - Throws: ``EBPFError/Code/notSupported`` when libbcc_bpf.so cannot be opened.
    static func requireRuntime() throws(EBPFError) {
        if case .failure(let failure) = runtimeLibrary { throw failure.error("to attach probes and read maps") }
    }

    /// libbcc.so, the compiler: taken from the directory libbcc_bpf.so was opened from, so
    /// both halves are of one installation and the compile cache's key names the file that
    /// compiles.
    static let compilerLibraryFile: String = {
        guard case .success = runtimeLibrary, let path = ProcessMappings.current().file(containing: "/libbcc_bpf.so"),
            let slash = path.lastIndex(of: "/")
        else { return "libbcc.so.0" }
        return path[..<slash] + "/libbcc.so.0"
    }()

    /// The compiler's functions, or why they could not be opened. Loading it maps clang and
    /// LLVM; it is never closed (LLVM's static destructors must not run while the process
    /// lives).
    static let compilerLibrary: Result<cbcc_compiler, Unavailable> = open(compilerLibraryFile, cbcc_compiler_load)

    /// The compiler's functions; callers checked ``requireCompiler()``.
    static var compiler: cbcc_compiler {
        switch compilerLibrary {
        case .success(let functions): return functions
        case .failure(let failure): preconditionFailure("\(failure.error("to compile"))")
        }
    }

    /// Opens the compiler library if it is not yet.
    ///
    /// - Throws: ``EBPFError/Code/notSupported`` when it cannot be opened.
    static func requireCompiler() throws(EBPFError) {
        if case .failure(let failure) = compilerLibrary { throw failure.error("to compile BPF C") }
    }

    private static func open<Table>(
        _ file: String,
        _ load: (UnsafeMutableRawPointer?, UnsafeMutablePointer<Table>?) -> UnsafePointer<CChar>?
    ) -> Result<Table, Unavailable> where Table: ZeroInitializable {
        guard let handle = dlopen(file, RTLD_NOW | RTLD_LOCAL) else {
            return .failure(
                Unavailable(library: file, reason: dlerror().map { String(cString: $0) } ?? "unknown error"))
        }
        var table = Table()
        if let missing = load(handle, &table) {
            dlclose(handle)
            return .failure(Unavailable(library: file, reason: "it has no function \(String(cString: missing))"))
        }
        return .success(table)
    }
}

/// A C struct imported with a zeroing `init()`.
protocol ZeroInitializable { init() }
extension cbcc_runtime: ZeroInitializable {}
extension cbcc_compiler: ZeroInitializable {}
