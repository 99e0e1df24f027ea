#if canImport(Glibc)
import Glibc
#endif

/// The file operations of the compile cache, and the identities of the files a compile
/// depends on.
///
/// A cache entry becomes a program running in the kernel, so only a directory and files
/// that belong to this process's user and that nobody else can write are read: an entry
/// planted by another user is never loaded.
package enum CacheFiles {
    /// Whether `path` is a directory owned by the effective user and not writable by group or
    /// others; creates it (and its parents) with mode 0700 when missing.
    package static func privateDirectory(_ path: String) -> Bool {
        var parts: [Substring] = []
        for component in path.split(separator: "/") {
            parts.append(component)
            let prefix = (path.hasPrefix("/") ? "/" : "") + parts.joined(separator: "/")
            if !SystemFiles.exists(prefix) { _ = mkdir(prefix, 0o700) }
        }
        var info = stat()
        return lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR && isPrivate(info)
    }

    /// The bytes of `path` if it is a regular file owned by the effective user and writable
    /// by nobody else; nil otherwise.
    package static func readPrivateFile(_ path: String) -> [UInt8]? {
        guard let fd = try? FileDescriptor.open(path, O_RDONLY | O_NOFOLLOW) else { return nil }
        var info = stat()
        guard fstat(fd.rawValue, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, isPrivate(info) else { return nil }
        return try? fd.readToEnd()
    }

    /// Writes `bytes` to `path` whole or not at all: into a temporary file beside it (mode
    /// 0600), renamed over `path`. Returns whether it succeeded.
    @discardableResult
    package static func writeAtomically(_ bytes: [UInt8], to path: String) -> Bool {
        let temporary = "\(path).\(getpid()).tmp"
        guard
            let fd = try? FileDescriptor(
                adopting: SystemCall.check("open") {
                    Glibc.open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
                })
        else { return false }
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.write(fd.rawValue, $0.baseAddress, $0.count) }
            if written < 0, errno == EINTR { continue }
            guard written > 0 else {
                unlink(temporary)
                return false
            }
            offset += written
        }
        fd.close()
        guard rename(temporary, path) == 0 else {
            unlink(temporary)
            return false
        }
        return true
    }

    /// The files of `directory` whose names end with `suffix`, oldest first by modification
    /// time.
    package static func files(in directory: String, endingWith suffix: String) -> [String] {
        guard let stream = opendir(directory) else { return [] }
        defer { closedir(stream) }
        var found: [(path: String, time: timespec)] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            var info = stat()
            let path = "\(directory)/\(name)"
            if name.hasSuffix(suffix), lstat(path, &info) == 0 { found.append((path, info.st_mtim)) }
        }
        return found.sorted { ($0.time.tv_sec, $0.time.tv_nsec) < ($1.time.tv_sec, $1.time.tv_nsec) }.map(\.path)
    }

    /// Removes the files of `directory` whose names end with `suffix`, all or the oldest
    /// beyond the newest `keeping`.
    package static func removeFiles(in directory: String, endingWith suffix: String, keeping: Int = 0) {
        files(in: directory, endingWith: suffix).dropLast(keeping).forEach { unlink($0) }
    }

    /// Marks `path` as used now (its modification time), for ``removeFiles(in:endingWith:keeping:)``.
    package static func touch(_ path: String) {
        _ = utimensat(AT_FDCWD, path, nil, 0)
    }

    /// A file's resolved path, size, modification time and inode, or `-` when it does not
    /// exist: what changes when a package replaces it.
    package static func identity(of path: String) -> String {
        guard let resolved = realpath(path, nil) else { return "\(path) -" }
        defer { free(resolved) }
        let target = String(cString: resolved)
        var info = stat()
        guard stat(target, &info) == 0 else { return "\(target) -" }
        return "\(target) \(info.st_size) \(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec) \(info.st_ino)"
    }

    /// The running kernel: release, build version (which dates the build) and machine.
    package static func kernelIdentity() -> String {
        var names = utsname()
        uname(&names)
        func text<T>(_ field: T) -> String {
            withUnsafeBytes(of: field) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
        return "\(text(names.release)) \(text(names.version)) \(text(names.machine))"
    }

    /// The kernel release alone (`uname -r`): the part of the headers' path that names them.
    package static func kernelRelease() -> String {
        var names = utsname()
        uname(&names)
        return withUnsafeBytes(of: names.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    package static func isPrivate(_ info: stat) -> Bool {
        info.st_uid == geteuid() && info.st_mode & (S_IWGRP | S_IWOTH) == 0
    }
}
