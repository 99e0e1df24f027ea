import EBPFKernel

/// Names cgroup ids: the path of the cgroup an event's ``ProbeEvent/cgroupID`` or an
/// aggregation's `.cgroup` key gives.
///
/// ```swift
/// let cgroups = CgroupResolver()
/// try b.attach(.syscall("openat")) { event in
///     print(cgroups.cgroup(id: event.cgroupID)?.name.unit ?? "-", event.filename?.stringValue ?? "-")
/// }
/// ```
///
/// It walks the cgroup2 mount once, then answers from what it found. An id it does not
/// know makes it walk again, once: a cgroup made since is found then. An id that walk does
/// not find either belongs to a cgroup already removed (ids are never reused), so it is
/// remembered as unknown and never walked for again. A removed cgroup keeps the path it
/// had, so events from before its removal are still named; its path made again is a new
/// id. What it remembers of removed and unknown cgroups is bounded (the last 16,384 of
/// each). The walk holds its lock: lookups wait for it. Safe to use from any thread.
public final class CgroupResolver: Sendable {
    private struct State {
        var mount: CgroupFiles.Mount?
        /// Every cgroup the last walk found, and removed ones still remembered.
        var paths: [UInt64: String] = [:]
        /// What the last walk found.
        var live: Set<UInt64> = []
        /// Cgroups a walk found and a later one did not, the oldest forgotten first.
        var removed = BoundedSet()
        var unknown = BoundedSet()
        var walks = 0
    }

    /// Ids in the order they came, the oldest dropped past ``limit``.
    private struct BoundedSet {
        static let limit = 16_384
        private(set) var members: Set<UInt64> = []
        private var order: [UInt64] = []
        private var start = 0

        mutating func insert(_ id: UInt64) {
            guard members.insert(id).inserted else { return }
            order.append(id)
            if members.count > Self.limit {
                members.remove(order[start])
                start += 1
                if start > Self.limit {
                    order.removeFirst(start)
                    start = 0
                }
            }
        }

        func contains(_ id: UInt64) -> Bool { members.contains(id) }
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

    /// Reads the hierarchy afresh; cgroups gone since keep their paths while
    /// ``State/removed`` remembers them.
    private static func walk(_ state: inout State) {
        state.walks += 1
        if state.mount == nil { state.mount = CgroupFiles.mount() }
        guard let mount = state.mount else { return }
        var found: [UInt64: String] = [:]
        CgroupFiles.walk(mount) { id, path in found[id] = path }
        let live = Set(found.keys)
        for (id, path) in state.paths where found[id] == nil {
            if state.live.contains(id) { state.removed.insert(id) }
            if state.removed.contains(id) { found[id] = path }
        }
        state.paths = found
        state.live = live
    }
}
