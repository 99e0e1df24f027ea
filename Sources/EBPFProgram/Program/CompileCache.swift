#if canImport(Glibc)
import Glibc
#endif
import EBPFKernel

/// Compiled programs kept on disk between runs, so that a second start compiles nothing.
///
/// An entry is stored under everything that decides what a compile produces: the program's
/// text and flags, the running kernel (release, build and machine), the kernel headers libbcc
/// compiles against, the libbcc library file, the CPUs the kernel can have, libbcc's
/// environment variables and this library's format. Any of them changed, the entry is not
/// found and the program is compiled again; an entry is never loaded for another kernel or
/// another text. Each entry also holds its whole key, compared when it is read, and a
/// checksum: a damaged or truncated file is a miss.
///
/// An entry becomes a program in the kernel, so the directory and its files must belong to
/// the user running the program and be writable by nobody else; otherwise the cache is not
/// used. Entries are written whole (a temporary file renamed into place), so processes
/// sharing a cache never read half an entry.
///
/// Programs whose maps are pinned, shared between programs or hold other maps are never
/// kept.
///
/// At most ``capacity`` entries are kept, the least recently used removed first.
///
/// A cached load creates the program's maps and loads its functions with the bpf(2) system
/// call, without BTF: the programs run the same, and a verifier error's log lacks source
/// lines.
public struct CompileCache: Sendable, Hashable {
    /// Where entries are kept.
    public let directory: String

    public init(directory: String) {
        self.directory = directory
    }

    /// The cache closure probes use unless told otherwise: `$EBPF_COMPILE_CACHE` when set (the
    /// word `off` turns caching off), else `$XDG_CACHE_HOME/swift-ebpf`, else
    /// `$HOME/.cache/swift-ebpf`; nil when caching is off or no directory can be named.
    public static var standard: CompileCache? {
        func variable(_ name: String) -> String? {
            getenv(name).map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 }
        }
        if let chosen = variable("EBPF_COMPILE_CACHE") {
            return chosen == "off" ? nil : CompileCache(directory: chosen)
        }
        if let base = variable("XDG_CACHE_HOME") { return CompileCache(directory: base + "/swift-ebpf") }
        if let home = variable("HOME") { return CompileCache(directory: home + "/.cache/swift-ebpf") }
        return nil
    }

    /// Removes every entry.
    public func removeAll() {
        CacheFiles.removeFiles(in: directory, endingWith: Self.suffix)
    }

    package static let suffix = ".bpfobject"

    /// The most entries kept: a program whose text holds a pid filter is a new entry for
    /// every pid, so the least recently used beyond this many are removed when one is stored.
    public static let capacity = 256

    /// What the compile of `text` with `cflags` depends on, as one string: the entry's key.
    package static func key(text: String, cflags: [String], environment: String = environment()) -> String {
        "\(environment)\ncflags \(cflags.joined(separator: "\u{0}"))\ntext\n\(text)"
    }

    /// Everything outside the program's text that decides what libbcc compiles.
    package static func environment() -> String {
        let release = CacheFiles.kernelRelease()
        var lines = [
            String(decoding: CompiledObject.magic.dropLast(), as: UTF8.self),
            "kernel \(CacheFiles.kernelIdentity())",
            "libbcc \(CacheFiles.identity(of: LibBCC.compilerLibraryFile))",
            "cpus \((try? SystemFiles.readText("/sys/devices/system/cpu/possible")) ?? "-")",
        ]
        for tree in ["build", "source"] {
            for file in ["Makefile", "include/generated/autoconf.h", "include/linux/version.h"] {
                lines.append("headers \(CacheFiles.identity(of: "/lib/modules/\(release)/\(tree)/\(file)"))")
            }
        }
        for name in ["BCC_KERNEL_SOURCE", "BCC_KERNEL_MODULES_SUFFIX", "BCC_LINUX_VERSION_CODE"] {
            let value = getenv(name).map { String(cString: $0) }
            lines.append("\(name)=\(value ?? "") \(value.map { CacheFiles.identity(of: $0 + "/Makefile") } ?? "")")
        }
        return lines.joined(separator: "\n")
    }

    /// Whether a program of this text can be kept: not one whose maps outlive it or are
    /// shared (pinned, public, shared or extern tables: a kept load would create a fresh map
    /// where libbcc opens the existing one), nor a map of maps (created with an inner map the
    /// kept form does not record).
    package static func canKeep(text: String) -> Bool {
        // Searched as bytes: String.contains compares Characters, 5 ms per 80 KB of text, and
        // 40 probes' programs are more.
        let markers = ["_PINNED", "BPF_TABLE_PUBLIC", "BPF_TABLE_SHARED", "\"extern\"", "_OF_MAPS"].map {
            Array($0.utf8)
        }
        var text = text
        return text.withUTF8 { bytes in !markers.contains { Self.bytes(bytes, contain: $0) } }
    }

    /// Whether `marker` (not empty) occurs in `bytes`.
    package static func bytes(_ bytes: UnsafeBufferPointer<UInt8>, contain marker: [UInt8]) -> Bool {
        guard let base = bytes.baseAddress, marker.count <= bytes.count else { return false }
        let first = marker[0]
        return marker.withUnsafeBytes { needle in
            for start in 0...(bytes.count - marker.count) where bytes[start] == first {
                if memcmp(base + start, needle.baseAddress!, marker.count) == 0 { return true }
            }
            return false
        }
    }

    /// The file an entry for `key` lives in.
    package func path(for key: String) -> String {
        let hash = String(Checksum.fnv1a(Array(key.utf8)), radix: 16)
        return "\(directory)/\(String(repeating: "0", count: 16 - hash.count))\(hash)\(Self.suffix)"
    }

    /// The object stored for exactly `key`, or nil.
    package func entry(for key: String) -> CompiledObject? {
        let path = path(for: key)
        guard CacheFiles.privateDirectory(directory), let bytes = CacheFiles.readPrivateFile(path),
            let object = CompiledObject.decode(bytes, key: key)
        else { return nil }
        CacheFiles.touch(path)
        return object
    }

    /// For the fuzzer (Fuzz/): the entry in `bytes`, under whatever key it holds, encoded
    /// again; nil when reading refuses it.
    @_spi(Fuzzing) public static func reencodedEntry(_ bytes: [UInt8]) -> [UInt8]? {
        CompiledObject.decodeWithKey(bytes).map { $0.object.encoded(key: $0.key) }
    }

    /// For the fuzzer: `body` with the checksum an entry ends with, so that mutated bytes
    /// reach the reader's structure instead of stopping at a wrong checksum.
    @_spi(Fuzzing) public static func sealedEntry(_ body: [UInt8]) -> [UInt8] {
        var writer = ByteWriter()
        writer.bytes = body
        writer.integer(Checksum.fnv1a(body))
        return writer.bytes
    }

    /// Stores `object` for `key`; a cache that cannot be written is skipped.
    package func store(_ object: CompiledObject, for key: String) {
        guard CacheFiles.privateDirectory(directory) else { return }
        CacheFiles.writeAtomically(object.encoded(key: key), to: path(for: key))
        CacheFiles.removeFiles(in: directory, endingWith: Self.suffix, keeping: Self.capacity)
    }
}
