#if canImport(Glibc)
import Glibc
#endif
import EBPFKernel
import EBPFProgram

/// The functions a uprobe point names, found in its binary: where each of its uprobes goes.
/// Holds the binary open, so the functions are read from and attached to the same file.
struct UserFunctionSites: Sendable, Hashable {
    /// The point, its binary located (a library name replaced by its path).
    let point: AttachPoint
    /// The functions selected, one per address, by address.
    let functions: [NamedFunction]
    let offset: UInt64
    let isReturn: Bool
    let pid: Int32?
    let binary: OpenedBinary

    static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.point == rhs.point && lhs.functions == rhs.functions && lhs.binary === rhs.binary
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(point)
        hasher.combine(functions)
    }

    /// The file offsets the uprobes go at.
    var fileOffsets: [UInt64] { functions.map { $0.function.fileOffset + offset } }
}

/// A binary opened once for its uprobes: its functions are read through this descriptor and
/// the kernel attaches through `/proc/self/fd/N`, so a path swapped meanwhile cannot move a
/// probe into another file.
final class OpenedBinary: Sendable {
    let path: String
    let file: FileDescriptor

    init(path: String, file: consuming FileDescriptor) {
        self.path = path
        self.file = file
    }
}

extension Session {
    /// The functions `point` (a uprobe or uretprobe) names in its binary.
    ///
    /// - Throws: ``EBPFError/Code/notFound`` for a missing binary or function,
    ///   ``EBPFError/Code/invalidArgument`` for an offset into more than one function or a
    ///   pattern matching too many, ``EBPFError/Code/invalidFormat`` for a file that is not ELF.
    func userFunctionSites(_ point: AttachPoint) throws(EBPFError) -> UserFunctionSites {
        guard case .userFunction(let function, let name, let offset, let isReturn, let pid) = point.location else {
            preconditionFailure("\(point) is not a uprobe")
        }
        let path = try Self.locateBinary(name, pid: pid ?? -1)
        let binary = OpenedBinary(path: path, file: try Self.openBinary(path, pid: pid))
        var functions: [NamedFunction]
        do throws(EBPFError) {
            let all: [ELFFunction]
            do throws(EBPFError) {
                all = try ELFFunctions.read(binary.file)
            } catch {
                throw EBPFError(error.code, "\(path): \(error.message)")
            }
            functions = JumpThunk.removing(from: try FunctionSelection.select(function, from: all, in: path)) {
                try? binary.file.read(at: $0.function.fileOffset, count: JumpThunk.length)
            }
        } catch  where error.code == .notFound {
            // A symbol only libbcc finds (in a separate debug file, say) still works.
            guard (try? NameValidation.symbol(function, what: "symbol")) != nil,
                let (_, address) = LibBCC.resolveSymbol(in: binary.file, symbol: function, pid: pid ?? -1)
            else { throw error }
            functions = [
                NamedFunction(
                    function: ELFFunction(
                        symbol: function, address: address, size: 0, fileOffset: address, isGlobal: true),
                    name: function)
            ]
        }
        if offset != 0, functions.count > 1 {
            throw EBPFError(
                .invalidArgument,
                "an offset needs one function, and '\(function)' names \(functions.count) in \(path) (\(functions.prefix(5).map(\.name).joined(separator: ", "))\(functions.count > 5 ? ", …" : "")); name one"
            )
        }
        for found in functions where found.function.fileOffset.addingReportingOverflow(offset).overflow {
            throw EBPFError(
                .invalidArgument, "offset \(offset) from '\(found.name)' in \(path) lies beyond any address")
        }
        let located = AttachPoint(
            .userFunction(function: function, binary: path, offset: offset, isReturn: isReturn, pid: pid))
        return UserFunctionSites(
            point: located, functions: functions, offset: offset, isReturn: isReturn, pid: pid, binary: binary)
    }

    /// Loads `fnName` from `module` and attaches it at every function of `sites`, all or
    /// none; the caller tracks it. `beforeAttach` runs once the binary is open and its
    /// functions found (a test swaps the path there).
    func makeUserProbeAttachment(
        module: BPFModule, sites: UserFunctionSites, fnName: String, beforeAttach: () -> Void = {}
    ) throws(EBPFError) -> Attachment {
        let prefix = sites.isReturn ? "r" : "p"
        let events = sites.fileOffsets.map { offset in
            (
                eventName: ProbeEventName.make(prefix, "\(sites.binary.path)_0x\(String(offset, radix: 16))"),
                offset: offset
            )
        }
        beforeAttach()
        return try module.withFunction(fnName, type: .kprobe) { (program) throws(EBPFError) -> Attachment in
            do throws(SystemCallFailure) {
                let hook = try LibBCC.Hook.uprobes(
                    program: program, isReturn: sites.isReturn, sites: events, binary: sites.binary.file,
                    pid: sites.pid ?? -1)
                return Attachment(point: sites.point, functionName: fnName, hook: hook)
            } catch {
                throw error.error(.attachFailed, "could not attach '\(fnName)' at \(sites.point)")
            }
        }
    }

    /// Opens the binary a uprobe goes into, as seen by `pid` (through `/proc/<pid>/root`,
    /// as libbcc resolves it) when given. Refuses anything but a regular file: opening a
    /// FIFO planted at the path would otherwise block.
    static func openBinary(_ path: String, pid: Int32?) throws(EBPFError) -> FileDescriptor {
        let seen =
            if let pid, path.hasPrefix("/"), !path.hasPrefix("/proc/") { "/proc/\(pid)/root\(path)" } else { path }
        let file: FileDescriptor
        do throws(SystemCallFailure) {
            file = try FileDescriptor.open(seen, O_RDONLY | O_NONBLOCK | O_NOCTTY)
        } catch {
            throw error.error(.notFound, "could not open the binary \(seen)")
        }
        guard file.isRegularFile else {
            throw EBPFError(
                .invalidArgument, "\(seen) is not a regular file; a uprobe goes into an executable or library")
        }
        return file
    }

    /// The file `name` refers to: a path that must exist, or a library found as the dynamic
    /// loader would (in `pid`'s mappings first when given).
    static func locateBinary(_ name: String, pid: Int32) throws(EBPFError) -> String {
        if name.contains("/") {
            guard SystemFiles.exists(name) else {
                throw EBPFError(
                    .notFound, "no binary at \(name); pass an existing path or a library name such as \"c\"")
            }
            return name
        }
        guard let path = LibBCC.whichLibrary(name, pid: pid) else {
            throw EBPFError(
                .notFound,
                "no library named '\(name)' (looked for lib\(name).so in the loader's cache); pass a path or a name such as \"c\" for libc"
            )
        }
        return path
    }
}
