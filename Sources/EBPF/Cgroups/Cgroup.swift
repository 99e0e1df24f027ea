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
        let mount = try Self.mount()
        let hierarchyPath = try Self.hierarchyPath(path, mount: mount)
        guard let directory = mount.directory(of: hierarchyPath) else {
            throw EBPFError(
                .notFound,
                "no cgroup \(NameValidation.quoted(path)) under \(mount.point): the cgroup2 mount there shows only \(mount.root) and below"
            )
        }
        guard let id = CgroupFiles.id(ofDirectory: directory) else {
            throw EBPFError(
                .notFound,
                "no cgroup \(NameValidation.quoted(path)): \(directory) is not a directory of the cgroup2 mount")
        }
        self.init(id: id, path: hierarchyPath)
    }

    /// The cgroup's directory under the cgroup2 mount.
    func directory() throws(EBPFError) -> String {
        let mount = try Self.mount()
        guard let directory = mount.directory(of: path) else {
            throw EBPFError(.notFound, "cgroup \(path) lies outside the cgroup2 mount at \(mount.point)")
        }
        return directory
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
        try mount().point
    }

    private static func mount() throws(EBPFError) -> CgroupFiles.Mount {
        guard let mount = CgroupFiles.mount() else {
            throw EBPFError(
                .notFound,
                "no cgroup2 filesystem is mounted (see /proc/self/mountinfo): mount one, e.g. `mount -t cgroup2 none /sys/fs/cgroup`"
            )
        }
        return mount
    }

    /// `path` from the hierarchy's root, validated: components of printable bytes, none
    /// `.` or `..`. A directory under the mount point is the mount's root and below.
    private static func hierarchyPath(_ path: String, mount: CgroupFiles.Mount) throws(EBPFError) -> String {
        var relative = path
        if path == mount.point {
            relative = mount.hierarchyPath(ofRelative: "/")
        } else if path.hasPrefix(mount.point + "/") {
            relative = mount.hierarchyPath(ofRelative: String(path.dropFirst(mount.point.count)))
        }
        let components = relative.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        let bad =
            !relative.hasPrefix("/") || relative.utf8.contains { $0 < 0x20 || $0 == 0x7F }
            || (relative != "/" && components.contains { $0.isEmpty || $0 == "." || $0 == ".." })
        guard !bad else {
            throw EBPFError(
                .invalidArgument,
                "cgroup path \(NameValidation.quoted(path)) must start with / and name a cgroup without '.', '..', empty components or control characters, e.g. /system.slice/nginx.service or \(mount.point)/system.slice/nginx.service"
            )
        }
        return relative
    }
}
