#if canImport(Glibc)
import Glibc
#endif

/// The cgroup v2 hierarchy as files: where it is mounted, a cgroup's id, the cgroup a
/// process is in, and a walk over every cgroup.
///
/// A cgroup's id, as `bpf_get_current_cgroup_id()` returns it, is its directory's inode
/// number on Linux 5.5 and later (before, the inode and a generation number together).
package enum CgroupFiles {
    /// A cgroup2 mount: where it is, and which cgroup of the hierarchy it shows at its top
    /// (`/` unless a subtree was mounted or bind-mounted there, as in a container).
    package struct Mount: Equatable, Sendable {
        /// `/sys/fs/cgroup` on a unified host, `/sys/fs/cgroup/unified` on a hybrid one.
        package var point: String
        /// mountinfo's root field: the hierarchy path of the mount's top directory.
        package var root: String

        package init(point: String, root: String) {
            self.point = point
            self.root = root
        }

        /// The directory of the cgroup at hierarchy path `path` (`/system.slice/x`), or nil
        /// when it lies outside the mounted subtree.
        package func directory(of path: String) -> String? {
            if root == "/" { return path == "/" ? point : point + path }
            if path == root { return point }
            guard path.hasPrefix(root + "/") else { return nil }
            return point + path.dropFirst(root.count)
        }

        /// The hierarchy path of the directory `relative` below the mount point (`/` for
        /// the mount point itself).
        package func hierarchyPath(ofRelative relative: String) -> String {
            if root == "/" { return relative }
            return relative == "/" ? root : root + relative
        }
    }

    /// The first cgroup2 mount of /proc/self/mountinfo; nil when none is.
    package static func mount() -> Mount? {
        guard let text = try? SystemFiles.readText("/proc/self/mountinfo") else { return nil }
        return mount(inMountinfo: text)
    }

    /// The first cgroup2 mount of a mountinfo text.
    package static func mount(inMountinfo text: String) -> Mount? {
        for line in text.split(separator: "\n") {
            // ID PARENT MAJOR:MINOR ROOT MOUNT-POINT OPTIONS [OPTIONAL...] - TYPE SOURCE OPTIONS
            let parts = line.split(separator: " ")
            guard let dash = parts.firstIndex(of: "-"), dash + 1 < parts.count, parts[dash + 1] == "cgroup2",
                parts.count > 4
            else { continue }
            return Mount(point: unescaped(parts[4]), root: unescaped(parts[3]))
        }
        return nil
    }

    /// The id of the cgroup whose directory is `path`, or nil when `path` is no directory.
    package static func id(ofDirectory path: String) -> UInt64? {
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else { return nil }
        return UInt64(info.st_ino)
    }

    /// The cgroup v2 path of process `pid` from its hierarchy's root (the `0::` line of
    /// /proc/PID/cgroup), or nil when it has none or is gone.
    package static func path(ofProcess pid: Int32) -> String? {
        guard let text = try? SystemFiles.readText("/proc/\(pid)/cgroup") else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("0::") {
            return String(line.dropFirst(3))
        }
        return nil
    }

    /// Calls `body` with the id and the hierarchy path (`/` for the root itself,
    /// `/system.slice/nginx.service` below it) of every cgroup under `mount`, parents
    /// before their children. Directories that vanish meanwhile are skipped.
    package static func walk(_ mount: Mount, _ body: (UInt64, String) -> Void) {
        var pending = ["/"]
        while let relative = pending.popLast() {
            let directory = relative == "/" ? mount.point : mount.point + relative
            guard let id = id(ofDirectory: directory) else { continue }
            body(id, mount.hierarchyPath(ofRelative: relative))
            guard let stream = opendir(directory) else { continue }
            defer { closedir(stream) }
            while let entry = readdir(stream) {
                guard entry.pointee.d_type == UInt8(DT_DIR) else { continue }
                let name = withUnsafeBytes(of: entry.pointee.d_name) { bytes in
                    String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
                }
                guard name != ".", name != ".." else { continue }
                pending.append(relative == "/" ? "/" + name : relative + "/" + name)
            }
        }
    }

    /// mountinfo's octal escapes (`\040` for a space) undone.
    private static func unescaped(_ field: Substring) -> String {
        var bytes: [UInt8] = []
        var utf8 = Array(field.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "\\"), utf8.count >= 3,
                let value = UInt8(String(decoding: utf8.prefix(3), as: UTF8.self), radix: 8)
            {
                bytes.append(value)
                utf8 = utf8.dropFirst(3)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
