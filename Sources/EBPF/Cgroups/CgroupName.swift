/// What a cgroup's path says about it: the systemd unit, the container and the Kubernetes
/// pod whose processes it holds, read from the names systemd and the container runtimes
/// give their cgroups.
///
/// | path's component | read as |
/// |---|---|
/// | `nginx.service`, `session-2.scope`, `user.slice` (the deepest `.service`, `.scope`, `.socket`, `.mount`, `.swap` or `.slice`) | ``unit`` |
/// | `docker-ID.scope`, `cri-containerd-ID.scope`, `crio-ID.scope`, `libpod-ID.scope`, or `docker/ID` (cgroupfs) | ``containerID``, ``runtime`` |
/// | `kubepods-burstable-podUID.slice` (`_` for `-`), or `kubepods/burstable/podUID` | ``podUID`` |
public struct CgroupName: Sendable, Hashable, CustomStringConvertible {
    /// The deepest systemd unit in the path: `nginx.service`, `docker-….scope`.
    public var unit: String?
    /// The container's id, 64 hexadecimal digits as the runtimes write it.
    public var containerID: String?
    /// The runtime the container's scope names: `docker`, `containerd`, `cri-o` or `podman`.
    public var runtime: String?
    /// The Kubernetes pod's uid, with dashes: `3f0c…-…`.
    public var podUID: String?

    /// The names in `path`, a cgroup's path from the hierarchy's root.
    public init(path: String) {
        let components = path.split(separator: "/").map(String.init)
        for (index, component) in components.enumerated() {
            if Self.unitSuffixes.contains(where: { component.hasSuffix($0) }) { unit = component }
            if let (runtime, id) = Self.containerScope(component) {
                self.runtime = runtime
                containerID = id
            } else if index > 0, Self.isContainerID(component),
                let runtime = Self.cgroupfsRuntimes[components[index - 1]]
            {
                // cgroupfs drivers: /docker/ID, /kubepods/…/podUID/ID.
                self.runtime = runtime
                containerID = component
            } else if Self.isContainerID(component), components[..<index].contains(where: { $0.hasPrefix("kubepods") })
            {
                containerID = component
            }
            if let uid = Self.podUID(component) { podUID = uid }
        }
    }

    /// The container's id when there is one, else the unit, else nil.
    public var description: String {
        if let containerID { return (runtime.map { $0 + ":" } ?? "") + containerID }
        return unit ?? "-"
    }

    private static let unitSuffixes = [".service", ".scope", ".socket", ".mount", ".swap", ".slice"]
    /// Scope prefixes (systemd cgroup driver) and the runtime each names.
    private static let scopePrefixes = [
        ("docker-", "docker"), ("cri-containerd-", "containerd"), ("crio-", "cri-o"), ("libpod-", "podman"),
    ]
    /// Parent directories under which the cgroupfs driver puts a container's id.
    private static let cgroupfsRuntimes = ["docker": "docker", "libpod_parent": "podman"]

    private static func containerScope(_ component: String) -> (String, String)? {
        guard component.hasSuffix(".scope") else { return nil }
        let stem = component.dropLast(".scope".count)
        for (prefix, runtime) in scopePrefixes where stem.hasPrefix(prefix) {
            let id = String(stem.dropFirst(prefix.count))
            if isContainerID(id) { return (runtime, id) }
        }
        return nil
    }

    /// 64 lowercase hexadecimal digits.
    private static func isContainerID(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    /// `kubepods-besteffort-pod<uid>.slice` (systemd, `_` for `-`) or `pod<uid>` (cgroupfs).
    private static func podUID(_ component: String) -> String? {
        var text = Substring(component)
        if text.hasPrefix("kubepods"), text.hasSuffix(".slice") {
            text = text.dropLast(".slice".count)
            guard let range = text.firstRange(of: "-pod") else { return nil }
            text = text[range.upperBound...]
        } else if text.hasPrefix("pod") {
            text = text.dropFirst(3)
        } else {
            return nil
        }
        let uid = String(text.map { $0 == "_" ? "-" : $0 })
        let groups = uid.split(separator: "-", omittingEmptySubsequences: false).map(\.count)
        let hex = uid.utf8.allSatisfy { $0 == 0x2D || (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
        return hex && groups == [8, 4, 4, 4, 12] ? uid : nil
    }
}
