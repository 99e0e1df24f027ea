#if canImport(Glibc)
import Glibc
#endif
import EBPFKernel
import EBPFProgram

extension Session {

    /// Loads `fnName` from `module` and attaches it at the uprobe or uretprobe `point`;
    /// the caller tracks it. `beforeAttach` runs once the binary is open and its symbol
    /// found (a test swaps the path there).
    func makeUserProbeAttachment(
        module: BPFModule, point: AttachPoint, fnName: String, beforeAttach: () -> Void = {}
    ) throws(EBPFError) -> Attachment {
        guard case .userFunction(let sym, let name, let symbolOffset, let isReturn, let pid) = point.location else {
            preconditionFailure("\(point) is not a uprobe")
        }
        let binary = try Self.locateBinary(name, pid: pid ?? -1)
        // Opened once: the symbol is read from this file and the kernel attaches to it,
        // whatever the path names by then.
        let opened = try Self.openBinary(binary, pid: pid)
        guard let (_, address) = LibBCC.resolveSymbol(in: opened, symbol: sym, pid: pid ?? -1) else {
            throw EBPFError(
                .notFound,
                "no symbol '\(sym)' in \(binary); list its symbols with `nm -D \(binary)` (or `nm` for static ones)"
            )
        }
        let (offset, overflow) = address.addingReportingOverflow(symbolOffset)
        guard !overflow else {
            throw EBPFError(
                .invalidArgument, "offset \(symbolOffset) from '\(sym)' in \(binary) lies beyond any address")
        }
        let resolved = AttachPoint(
            .userFunction(symbol: sym, binary: binary, offset: symbolOffset, isReturn: isReturn, pid: pid))
        let eventName = ProbeEventName.make(isReturn ? "r" : "p", "\(binary)_0x\(String(offset, radix: 16))")
        beforeAttach()
        let attachment = try module.withFunction(fnName, type: .kprobe) { (program) throws(EBPFError) -> Attachment in
            do throws(SystemCallFailure) {
                let hook = try LibBCC.Hook.uprobe(
                    program: program, isReturn: isReturn, eventName: eventName, binary: opened, offset: offset,
                    pid: pid ?? -1)
                return Attachment(point: resolved, functionName: fnName, hook: hook)
            } catch {
                throw error.error(.attachFailed, "could not attach '\(fnName)' at \(resolved)")
            }
        }
        withExtendedLifetime(opened) {}  // Open until the kernel holds the file itself.
        return attachment
    }

    /// Opens the binary a uprobe goes into, as seen by `pid` (through `/proc/<pid>/root`,
    /// as libbcc resolves it) when given. Refuses anything but a regular file: opening a
    /// FIFO planted at the path would otherwise block.
    private static func openBinary(_ path: String, pid: Int32?) throws(EBPFError) -> FileDescriptor {
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
