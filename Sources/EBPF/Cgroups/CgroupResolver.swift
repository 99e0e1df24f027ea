import EBPFKernel

/// Names cgroup ids: the path of the cgroup an event's ``ProbeEvent/cgroupID`` or an
/// aggregation's `.cgroup` key gives.
///
/// ```swift
/// let cgroups = CgroupResolver()
/// try b.attach(.syscall("openat")) { event in
///     print(cgroups.cgroup(id: event.cgroupID)?.name.unit ?? "-", event.filename ?? "-")
/// }
/// ```
///
/// It walks the cgroup2 mount once, then answers from what it found. An id it does not
/// know makes it walk again, once per id: a cgroup made since is found then, and an id no
/// walk finds (a cgroup already removed) is remembered as unknown and is tried again only
/// with the next walk another id causes. A removed cgroup keeps the path it had, so events
/// from before its removal are still named; its path made again is a new id. Safe to use
/// from any thread.
public final class CgroupResolver: Sendable {
    private struct State {
        var mount: String?
        var paths: [UInt64: String] = [:]
        var unknown: Set<UInt64> = []
        var walks = 0
    }

    private let state = Lock(State())

    public init() {}

    /// The cgroup with kernel id `id`, or nil when no walk of the hierarchy found it (or
    /// none is mounted).
    public func cgroup(id: UInt64) -> Cgroup? {
        state.withLock { state in
            if let path = state.paths[id] { return Cgroup(id: id, path: path) }
            if state.unknown.contains(id) { return nil }
            Self.walk(&state)
            if let path = state.paths[id] { return Cgroup(id: id, path: path) }
            state.unknown.insert(id)
            return nil
        }
    }

    /// How many times it has walked the hierarchy.
    var walkCount: Int { state.withLock { $0.walks } }

    private static func walk(_ state: inout State) {
        state.walks += 1
        state.unknown = []
        if state.mount == nil { state.mount = CgroupFiles.mountPoint() }
        guard let mount = state.mount else { return }
        CgroupFiles.walk(mount) { id, path in state.paths[id] = path }
    }
}
