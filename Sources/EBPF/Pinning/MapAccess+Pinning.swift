import EBPFKernel

#if canImport(Glibc)
import Glibc
#endif

extension MapAccess {
    /// Pins the map at `path` (``BPFFilesystem``).
    func pin(at path: String) throws(EBPFError) {
        try BPFFilesystem.preparePin(path)
        try withDescriptor { (map) throws(EBPFError) in
            do throws(SystemCallFailure) {
                try ObjectPins.pin(map, at: path)
            } catch {
                throw BPFFilesystem.pinFailure(error, what: "table '\(name)'", path: path)
            }
        }
    }

    /// The kernel's id of the map.
    func id() throws(EBPFError) -> UInt32 {
        try withDescriptor { (map) throws(EBPFError) -> UInt32 in
            let info: ObjectPins.MapInfo?
            do throws(SystemCallFailure) {
                info = ObjectPins.mapInfo(of: try FileDescriptor.duplicate(map))
            } catch {
                throw error.error(.systemCallFailed, "could not read table '\(name)''s id")
            }
            guard let info else { throw EBPFError(.systemCallFailed, "the kernel did not describe table '\(name)'") }
            return info.id
        }
    }

    /// The map pinned at `path`, or with id `id`, for a view whose keys and values are
    /// `keySize` and `valueSize` bytes.
    static func open(pinnedAt path: String?, id: UInt32?, keySize: Int, valueSize: Int, perCPU: Bool) throws(EBPFError)
        -> MapAccess
    {
        let what = path.map { "the map pinned at \($0)" } ?? "the map with id \(id ?? 0)"
        if let path { try BPFFilesystem.validate(path) }
        let descriptor: FileDescriptor
        do throws(SystemCallFailure) {
            if let path {
                descriptor = try ObjectPins.open(pinnedAt: path)
            } else {
                descriptor = try ObjectPins.open(id: id ?? 0, program: false)
            }
        } catch {
            throw error.error(.systemCallFailed, "could not open \(what)")
        }
        guard let info = ObjectPins.mapInfo(of: descriptor) else {
            throw EBPFError(.invalidArgument, "\(what) is not a map (a program or a link?)")
        }
        let access = try MapAccess(opened: descriptor, info: info)
        guard access.keySize == keySize, access.valueSize == valueSize, access.isPerCPU == perCPU else {
            throw EBPFError(
                .decodingFailed,
                "\(what) ('\(access.name)', \(access.type)) has \(access.keySize)-byte keys and \(access.valueSize)-byte values\(access.isPerCPU ? ", per CPU" : ""); the view asked for \(keySize) and \(valueSize)\(perCPU ? ", per CPU" : "")"
            )
        }
        return access
    }
}

extension TypedTable {
    /// The map pinned at `path` (by this or another process), read and written as `Key`
    /// and `Value`, whose sizes must be the map's, as cilium's `LoadPinnedMap`. The view
    /// keeps the map open until it goes.
    ///
    /// - Throws: ``EBPFError/Code/notFound`` when nothing is pinned there,
    ///   ``EBPFError/Code/invalidArgument`` for a bad path or an object that is not a map,
    ///   ``EBPFError/Code/decodingFailed`` for sizes that are not the map's.
    public static func pinned(at path: String) throws(EBPFError) -> TypedTable {
        TypedTable(
            access: try MapAccess.open(
                pinnedAt: path, id: nil, keySize: MemoryLayout<Key>.size, valueSize: MemoryLayout<Value>.size,
                perCPU: false))
    }

    /// The map with the kernel's id `id` (``id``, `bpftool map show`), as ``pinned(at:)``.
    public static func withID(_ id: UInt32) throws(EBPFError) -> TypedTable {
        TypedTable(
            access: try MapAccess.open(
                pinnedAt: nil, id: id, keySize: MemoryLayout<Key>.size, valueSize: MemoryLayout<Value>.size,
                perCPU: false))
    }

    /// Pins the map at `path` on a BPF filesystem, so it outlives this process until
    /// unpinned (``BPFFilesystem/unpin(_:)``).
    ///
    /// - Throws: ``EBPFError/Code/invalidArgument`` for a path off a BPF filesystem or one
    ///   already taken.
    public func pin(at path: String) throws(EBPFError) { try access.pin(at: path) }

    /// The kernel's id of the map, by which another process opens it (``withID(_:)``).
    public var id: UInt32 { get throws(EBPFError) { try access.id() } }
}

extension PerCPUTable {
    /// The per-CPU map pinned at `path`, as ``TypedTable/pinned(at:)``.
    public static func pinned(at path: String) throws(EBPFError) -> PerCPUTable {
        PerCPUTable(
            access: try MapAccess.open(
                pinnedAt: path, id: nil, keySize: MemoryLayout<Key>.size, valueSize: MemoryLayout<Value>.size,
                perCPU: true))
    }

    /// Pins the map at `path`, as ``TypedTable/pin(at:)``.
    public func pin(at path: String) throws(EBPFError) { try access.pin(at: path) }
}

extension Table {
    /// Pins the map at `path`, as ``TypedTable/pin(at:)``.
    public func pin(at path: String) throws(EBPFError) { try access.pin(at: path) }

    /// The kernel's id of the map, as ``TypedTable/id``.
    public var id: UInt32 { get throws(EBPFError) { try access.id() } }
}
