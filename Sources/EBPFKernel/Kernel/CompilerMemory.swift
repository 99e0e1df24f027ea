internal import CBCC

#if canImport(Glibc)
import Glibc
#endif

/// Gives back the memory libbcc's compiler holds after a compile.
///
/// A compile pulls clang's and LLVM's code in (tens of megabytes of pages, resident until
/// the process ends) and leaves the freed parse trees in malloc's arenas. After loading, a
/// tracer needs neither. bcc's own `bcc_free_memory()` drops only libbcc's code, which on a
/// distribution that ships LLVM as shared libraries is the smallest part.
package enum CompilerMemory {
    /// The libraries whose code a compile runs (file names as `/proc/self/maps` shows them).
    package static let compilerLibraries = ["libLLVM", "libclang-cpp", "libbcc.so"]

    /// Drops the resident pages of the compiler libraries' code and returns malloc's free
    /// memory to the kernel. Code pages are clean copies of the files: the next compile reads
    /// them back from the page cache. Only executable mappings are dropped — writable and
    /// relocated read-only pages hold state that exists nowhere else.
    package static func release() {
        for mapping in executableMappings(of: .current()) {
            _ = madvise(
                UnsafeMutableRawPointer(bitPattern: mapping.start), Int(mapping.end - mapping.start), MADV_DONTNEED)
        }
        _ = malloc_trim(0)
    }

    /// The compiler libraries' executable, private, file-backed mappings.
    package static func executableMappings(of process: ProcessMappings) -> [ProcessMappings.Mapping] {
        process.mappings.filter { mapping in
            mapping.permissions == "r-xp" && compilerLibraries.contains { mapping.path.contains($0) }
        }
    }
}
