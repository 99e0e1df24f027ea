internal import CKernelABI

#if canImport(Glibc)
import Glibc
#endif

/// Maps, programs and links by path on a BPF filesystem (bpffs), or by id: how another
/// process finds them.
package enum ObjectPins {
    /// What the kernel says of a map.
    package struct MapInfo: Equatable, Sendable {
        package var id: UInt32
        package var type: Int32
        package var keySize: Int
        package var valueSize: Int
        package var maxEntries: Int
        package var name: String
    }

    /// `BPF_FS_MAGIC`: the `f_type` statfs(2) reports for a BPF filesystem.
    private static let bpfFilesystemMagic = 0xCAFE_4A11

    /// Pins the object behind `object` at `path`, which must not exist yet, in a directory
    /// of a BPF filesystem.
    package static func pin(_ object: borrowing BorrowedDescriptor, at path: String) throws(SystemCallFailure) {
        try SystemCall.check("bpf(BPF_OBJ_PIN)") { cka_bpf_obj_pin(object.rawValue, path) }
    }

    /// A descriptor of the object pinned at `path`.
    package static func open(pinnedAt path: String) throws(SystemCallFailure) -> FileDescriptor {
        FileDescriptor(adopting: try SystemCall.check("bpf(BPF_OBJ_GET)") { cka_bpf_obj_get(path) })
    }

    /// A descriptor of the map (or with `program`, the program) with id `id`.
    package static func open(id: UInt32, program: Bool) throws(SystemCallFailure) -> FileDescriptor {
        let call = program ? "bpf(BPF_PROG_GET_FD_BY_ID)" : "bpf(BPF_MAP_GET_FD_BY_ID)"
        return FileDescriptor(adopting: try SystemCall.check(call) { cka_bpf_get_fd_by_id(id, program ? 1 : 0) })
    }

    /// What the kernel says of the map behind `descriptor`; nil when it is not a map.
    package static func mapInfo(of descriptor: borrowing FileDescriptor) -> MapInfo? {
        var (id, type, keySize, valueSize, maxEntries): (UInt32, UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0, 0)
        var name = [CChar](repeating: 0, count: 16)
        guard cka_bpf_map_info(descriptor.rawValue, &id, &type, &keySize, &valueSize, &maxEntries, &name) == 0
        else { return nil }
        return MapInfo(
            id: id, type: Int32(bitPattern: type), keySize: Int(keySize), valueSize: Int(valueSize),
            maxEntries: Int(maxEntries),
            name: String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }

    /// Whether `directory` is on a BPF filesystem.
    package static func isOnBPFFilesystem(_ directory: String) -> Bool {
        var status = statfs()
        return statfs(directory, &status) == 0 && Int(status.f_type) == bpfFilesystemMagic
    }

    /// Mounts a BPF filesystem at `directory` (root only; mode 0700).
    package static func mountBPFFilesystem(at directory: String) throws(SystemCallFailure) {
        try SystemCall.check("mount(bpf)") { mount("bpf", directory, "bpf", 0, "mode=0700") }
    }
}
