import EBPFKernel

/// A cgroup of the v2 hierarchy: how systemd units and containers group their processes,
/// so a service is one cgroup whatever its pids.
///
/// ```swift
/// let nginx = try Cgroup(path: "/system.slice/nginx.service")
/// print(nginx.id, nginx.name.unit ?? "-")
/// ```
///
/// Cgroup ids are those the kernel gives programs (`bpf_get_current_cgroup_id()`, bpftrace's
/// `cgroup`, ``ProbeEvent/cgroupID``): a cgroup's directory's inode number, on Linux 5.5 and
/// later (before, the ids programs see differ, and cgroups are refused). A cgroup removed
/// and made again under the same name is a new id.
public struct Cgroup: Sendable, Hashable, CustomStringConvertible {
    /// The kernel's id for the cgroup.
    public let id: UInt64
    /// Its path from the hierarchy's root, `/` for the root: `/system.slice/nginx.service`,
    /// as the `0::` line of /proc/PID/cgroup and bpftrace's `cgroup_path` give it.
    public let path: String

    /// What the path names: the systemd unit, the container, the Kubernetes pod.
    public var name: CgroupName { CgroupName(path: path) }

    public var description: String { path }

    /// The cgroup at `path`: a directory of the cgroup2 mount
    /// (`/sys/fs/cgroup/system.slice/nginx.service`), or a path from the hierarchy's root
    /// (`/system.slice/nginx.service`).
    ///
    /// - Throws: ``EBPFError/Code/invalidArgument`` for a path with `..`, `.`, an empty
    ///   component or a control character; ``EBPFError/Code/notFound`` when no cgroup2
    ///   filesystem is mounted, or no cgroup is there; ``EBPFError/Code/notSupported``
    ///   before Linux 5.5, whose cgroup ids are not their directories' inode numbers.
    public init(path: String) throws(EBPFError) {
        guard KernelFeatures.release(atLeast: 5, 5) else {
            throw EBPFError(
                .notSupported,
                "cgroup \(NameValidation.quoted(path)): a cgroup's id is its directory's inode number from Linux 5.5; this kernel gives programs another id"
            )
        }
        let mount = try Self.mountPoint()
        let relative = try Self.relativePath(path, mount: mount)
        guard let id = CgroupFiles.id(ofDirectory: relative == "/" ? mount : mount + relative) else {
            throw EBPFError(
                .notFound,
                "no cgroup \(NameValidation.quoted(path)): \(mount + (relative == "/" ? "" : relative)) is not a directory of the cgroup2 mount"
            )
        }
        self.init(id: id, path: relative)
    }

    init(id: UInt64, path: String) {
        self.id = id
        self.path = path
    }

    /// The cgroup process `pid` is in now.
    ///
    /// - Throws: ``EBPFError/Code/notFound`` when the process is gone or has no cgroup v2
    ///   path (no cgroup2 hierarchy).
    public static func of(processID pid: Int32) throws(EBPFError) -> Cgroup {
        guard let path = CgroupFiles.path(ofProcess: pid) else {
            throw EBPFError(
                .notFound, "process \(pid) has no cgroup v2 path in /proc/\(pid)/cgroup (gone, or no cgroup2)")
        }
        return try Cgroup(path: path)
    }

    /// Where the cgroup2 filesystem is mounted (from /proc/self/mountinfo): `/sys/fs/cgroup`,
    /// or `/sys/fs/cgroup/unified` on a hybrid host.
    ///
    /// - Throws: ``EBPFError/Code/notFound`` when none is mounted.
    public static func mountPoint() throws(EBPFError) -> String {
        guard let mount = CgroupFiles.mountPoint() else {
            throw EBPFError(
                .notFound,
                "no cgroup2 filesystem is mounted (see /proc/self/mountinfo): mount one, e.g. `mount -t cgroup2 none /sys/fs/cgroup`"
            )
        }
        return mount
    }

    /// `path` from the hierarchy's root, validated: components of printable bytes, none
    /// `.` or `..`.
    private static func relativePath(_ path: String, mount: String) throws(EBPFError) -> String {
        var relative = path
        if path == mount {
            relative = "/"
        } else if path.hasPrefix(mount + "/") {
            relative = String(path.dropFirst(mount.count))
        }
        let components = relative.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        let bad =
            !relative.hasPrefix("/") || relative.utf8.contains { $0 < 0x20 || $0 == 0x7F }
            || (relative != "/" && components.contains { $0.isEmpty || $0 == "." || $0 == ".." })
        guard !bad else {
            throw EBPFError(
                .invalidArgument,
                "cgroup path \(NameValidation.quoted(path)) must start with / and name a cgroup without '.', '..', empty components or control characters, e.g. /system.slice/nginx.service or \(mount)/system.slice/nginx.service"
            )
        }
        return relative
    }
}
