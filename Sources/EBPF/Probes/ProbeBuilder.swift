#if canImport(Glibc)
import Glibc
#endif

/// How a wrapper turns generated probes into programs.
enum ProbeBuilder: Sendable, Hashable {
    /// ``ProbeEmitter`` writes the instructions of every probe it can build (tracepoints),
    /// without clang; others are compiled.
    case emitter
    /// Every probe is compiled from its C text by libbcc (and kept in the compile cache).
    case compiler

    /// ``emitter``, unless `EBPF_COMPILE_PROBES=1` asks for clang (to compare the two, or
    /// to work around an emitted program a kernel rejects).
    static let standard: ProbeBuilder = {
        guard let value = getenv("EBPF_COMPILE_PROBES") else { return .emitter }
        return String(cString: value) == "1" ? .compiler : .emitter
    }()
}
