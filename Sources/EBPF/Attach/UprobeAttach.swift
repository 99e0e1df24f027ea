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
/// probe into another file. Closed once the uprobes are attached (the kernel holds the file
/// itself then).
final class OpenedBinary: Sendable {
    let path: String
    private let file: Lock<FileDescriptor?>

    init(path: String, file: consuming FileDescriptor) {
        self.path = path
        self.file = Lock(file)
    }

    /// `body`'s result with the open file; `closed` when it was closed.
    func withFile<Result>(
        _ body: (borrowing FileDescriptor) throws(EBPFError) -> Result
    ) throws(EBPFError) -> Result {
        try file.withLock { (file) throws(EBPFError) -> Result in
            switch file {
            case .some(let open): return try body(open)
            case .none: throw EBPFError(.closed, "the binary \(path) was closed once its uprobes were attached")
            }
        }
    }

    /// The functions the file defines, errors naming the file.
    func functions() throws(EBPFError) -> [ELFFunction] {
        do throws(EBPFError) {
            return try withFile { (file) throws(EBPFError) in try ELFFunctions.read(file) }
        } catch {
            throw EBPFError(error.code, "\(path): \(error.message)")
        }
    }

    func close() {
        let taken = file.withLock { $0.take() }
        _ = taken  // Closed here, outside the lock.
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
            let selected = try FunctionSelection.select(function, from: try binary.functions(), in: path)
            functions = JumpThunk.removing(from: selected) { found in
                try? binary.withFile { (file) throws(EBPFError) in
                    do throws(SystemCallFailure) {
                        return try file.read(at: found.function.fileOffset, count: JumpThunk.length)
                    } catch {
                        throw error.error(.systemCallFailed, "could not read \(path)")
                    }
                }
            }
        } catch  where error.code == .notFound {
            // A symbol only libbcc finds (in a separate debug file, say) still works.
            guard (try? NameValidation.symbol(function, what: "symbol")) != nil,
                let address = try? binary.withFile({ (file) throws(EBPFError) in
                    LibBCC.resolveSymbol(in: file, symbol: function, pid: pid ?? -1)?.offset
                })
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
                "an offset needs one function, and \(NameValidation.quoted(function)) names \(functions.count) in \(path) (\(functions.prefix(5).map { NameValidation.quoted($0.name) }.joined(separator: ", "))\(functions.count > 5 ? ", …" : "")); name one"
            )
        }
        for found in functions
        where found.function.fileOffset.addingReportingOverflow(offset).overflow
            || (found.function.size > 0 && offset >= found.function.size)
        {
            throw EBPFError(
                .invalidArgument,
                "offset \(offset) lies outside \(NameValidation.quoted(found.name)) in \(path), which is \(found.function.size) bytes long"
            )
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
        // The kernel holds the file once the uprobes are attached: the descriptor closes.
        defer { sites.binary.close() }
        return try module.withFunction(fnName, type: .kprobe) { (program) throws(EBPFError) -> Attachment in
            try sites.binary.withFile { (file) throws(EBPFError) -> Attachment in
                do throws(SystemCallFailure) {
                    let hook = try LibBCC.Hook.uprobes(
                        program: program, isReturn: sites.isReturn, sites: events, binary: file, pid: sites.pid ?? -1)
                    return Attachment(point: sites.point, functionName: fnName, hook: hook)
                } catch {
                    throw error.error(.attachFailed, "could not attach '\(fnName)' at \(sites.point)")
                }
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
