import EBPFKernel

#if canImport(Glibc)
import Glibc
#endif

/// Where maps, programs and links are pinned: a BPF filesystem (bpffs), by convention at
/// `/sys/fs/bpf`. A pinned object outlives the process that made it, until its pin is
/// removed (``unpin(_:)``) and nothing else holds it; another process opens it by path
/// (``TypedTable/pinned(at:)``, ``LoadedFunction/pinned(at:)``), as bcc's
/// `BPF_TABLE_PINNED` and `bpftool … pinned` do.
public enum BPFFilesystem {
    /// Where a BPF filesystem is mounted by convention, and mounted by the library when a pin
    /// is asked for below it and none is there.
    public static let standardMountPoint = "/sys/fs/bpf"

    /// Removes the pin at `path`. The object goes once nothing else holds it (a loaded
    /// program, an open descriptor, another pin).
    ///
    /// - Throws: ``EBPFError/Code/invalidArgument`` for a path that is not absolute or holds
    ///   `..`, or that is not on a BPF filesystem; ``EBPFError/Code/notFound`` when nothing
    ///   is pinned there.
    public static func unpin(_ path: String) throws(EBPFError) {
        try validate(path)
        try requireBPFFilesystem(directory(of: path), for: path)
        do throws(SystemCallFailure) {
            try SystemFiles.remove(path)
        } catch {
            throw error.error(.systemCallFailed, "could not remove the pin \(path)")
        }
    }

    /// Checks `path` for a new pin: absolute, no `..`, in a directory of a BPF filesystem
    /// (mounting one at ``standardMountPoint`` when the path is below it and none is there).
    static func preparePin(_ path: String) throws(EBPFError) {
        try validate(path)
        let directory = directory(of: path)
        if !ObjectPins.isOnBPFFilesystem(directory), directory.hasPrefix(standardMountPoint),
            !ObjectPins.isOnBPFFilesystem(standardMountPoint)
        {
            do throws(SystemCallFailure) {
                try ObjectPins.mountBPFFilesystem(at: standardMountPoint)
            } catch {
                throw error.error(
                    .permissionDenied,
                    "no BPF filesystem at \(standardMountPoint), and mounting one failed (mount -t bpf bpf \(standardMountPoint) as root)"
                )
            }
        }
        try requireBPFFilesystem(directory, for: path)
    }

    /// Checks a path to open a pin at: absolute, no `..`.
    static func validate(_ path: String) throws(EBPFError) {
        let components = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        guard path.hasPrefix("/"), path.utf8.count < 4096, !path.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }),
            !components.contains(where: { $0 == ".." || $0 == "." }), components.last?.isEmpty == false
        else {
            throw EBPFError(
                .invalidArgument,
                "the pin path \(NameValidation.quoted(path)) must be absolute, name a file, and hold no '.' or '..' components, e.g. \(standardMountPoint)/my_counts"
            )
        }
    }

    /// The error for a failed pin of `what` at `path`.
    static func pinFailure(_ failure: SystemCallFailure, what: String, path: String) -> EBPFError {
        if failure.errno == EEXIST {
            return EBPFError(
                .invalidArgument, "cannot pin \(what) at \(path): something is pinned there already",
                call: failure.call, errno: failure.errno)
        }
        return failure.error(.systemCallFailed, "could not pin \(what) at \(path)")
    }

    private static func directory(of path: String) -> String {
        let parent = path[..<(path.lastIndex(of: "/") ?? path.startIndex)]
        return parent.isEmpty ? "/" : String(parent)
    }

    private static func requireBPFFilesystem(_ directory: String, for path: String) throws(EBPFError) {
        guard ObjectPins.isOnBPFFilesystem(directory) else {
            throw EBPFError(
                .invalidArgument,
                "cannot pin at \(path): \(directory) is not a directory of a BPF filesystem; pin below \(standardMountPoint) (mounted if needed) or mount one: mount -t bpf bpf DIRECTORY"
            )
        }
    }
}
