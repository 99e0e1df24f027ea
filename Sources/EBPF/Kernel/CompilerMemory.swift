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
enum CompilerMemory {
    /// The libraries whose code a compile runs (file names as `/proc/self/maps` shows them).
    static let compilerLibraries = ["libLLVM", "libclang-cpp", "libbcc.so"]

    /// Drops the resident pages of the compiler libraries' code and returns malloc's free
    /// memory to the kernel. Code pages are clean copies of the files: the next compile reads
    /// them back from the page cache. Only executable mappings are dropped — writable and
    /// relocated read-only pages hold state that exists nowhere else.
    static func release() {
        for mapping in executableMappings(from: (try? SystemFiles.readText("/proc/self/maps")) ?? "") {
            _ = madvise(
                UnsafeMutableRawPointer(bitPattern: mapping.start), Int(mapping.end - mapping.start), MADV_DONTNEED)
        }
        _ = malloc_trim(0)
    }

    /// The compiler libraries' executable, private, file-backed mappings in a
    /// `/proc/<pid>/maps` text (`start-end perms offset dev inode path`).
    static func executableMappings(from maps: String) -> [(start: UInt, end: UInt)] {
        maps.split(separator: "\n").compactMap { line in
            let columns = line.split(separator: " ", omittingEmptySubsequences: true)
            guard columns.count >= 6, columns[1] == "r-xp",
                compilerLibraries.contains(where: { columns[5].contains($0) })
            else { return nil }
            let bounds = columns[0].split(separator: "-")
            guard bounds.count == 2, let start = UInt(bounds[0], radix: 16), let end = UInt(bounds[1], radix: 16),
                start < end
            else { return nil }
            return (start, end)
        }
    }
}
