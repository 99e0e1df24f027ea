import Logging
import EBPFKernel
import EBPFProgram

extension Session {
    /// Compiles `text` after the argument readers of `usdt`'s probes and attaches them
    /// (see ``EBPFWrapper/init(text:cflags:usdt:cache:logger:)``).
    convenience init(
        text: String, cflags: [String], usdt: [String: AttachPoint], cache: CompileCache?, logger: Logger
    ) throws(EBPFError) {
        try LibBCC.requireRuntime()
        var readers = ["#include <uapi/linux/ptrace.h>"]
        var resolved: [(function: String, probe: USDTProbe, pid: Int32?)] = []
        // By name: the same text, and so the same compile-cache key, on every run.
        for (function, point) in usdt.sorted(by: { $0.key < $1.key }) {
            try NameValidation.identifier(function, what: "function name")
            try point.validate()
            guard case .usdt(let spec, let binary, let pid) = point.location else {
                throw EBPFError(
                    .invalidArgument,
                    "usdt: '\(function)' is given \(point), not a USDT probe (.usdt(\"provider:name\", in: binary) or usdt:BINARY:PROVIDER:NAME); attach other kinds with attach(function:to:)"
                )
            }
            let probe = try Self.findProbe(spec, in: binary, pid: pid)
            readers.append(try USDTArgumentReader.readers(for: probe, prefix: "_bpf_readarg_" + function))
            resolved.append((function, probe, pid))
        }
        // `#line` keeps clang's diagnostics at the lines of the caller's text.
        try self.init(
            text: readers.joined(separator: "\n") + "\n#line 1\n" + text, cflags: cflags, cache: cache, logger: logger)
        do throws(EBPFError) {
            for (function, probe, pid) in resolved {
                _ = try track(makeUSDTAttachment(probe, fnName: function, pid: pid, module: try nativeModule()))
            }
        } catch {
            close()
            throw error
        }
    }

    /// The probe `spec` (`provider:name` or `name`) of `binary`, or of the binaries `pid`
    /// maps.
    static func findProbe(_ spec: String, in binary: String?, pid: Int32?) throws(EBPFError) -> USDTProbe {
        let parts = spec.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.count <= 2 else {
            throw EBPFError(.invalidArgument, "USDT probe \(NameValidation.quoted(spec)) is not provider:name or name")
        }
        for part in parts { try NameValidation.identifier(part, what: "USDT provider or probe name") }
        let provider = parts.count == 2 ? parts[0] : nil
        let name = parts[parts.count - 1]
        let probes: [USDTProbe]
        let place: String
        switch (binary, pid) {
        case (nil, nil):
            throw EBPFError(.invalidArgument, "USDT probe \(spec): give the binary it is in, a pid, or both")
        case (let binary?, let pid):
            try NameValidation.binaryPath(binary)
            if let pid { try checkPID(pid) }
            let path = try locateBinary(binary, pid: pid ?? -1)
            probes = try LibBCC.usdtProbes(path: path, pid: pid)
            place = path + (pid.map { " in process \($0)" } ?? "")
        case (nil, let pid?):
            try checkPID(pid)
            probes = try LibBCC.usdtProbes(path: nil, pid: pid)
            place = "process \(pid)"
        }
        let matches = probes.filter { $0.name == name && (provider == nil || $0.provider == provider) }
        guard let probe = matches.first else {
            let known = Set(probes.map(\.description)).sorted()
            throw EBPFError(
                .notFound,
                "no USDT probe \(spec) in \(place); "
                    + (known.isEmpty ? "it has none" : "it has \(known.prefix(20).joined(separator: ", "))")
                    + (known.count > 20 ? " and \(known.count - 20) more" : ""))
        }
        if Set(matches.map { "\($0.binaryPath) \($0)" }).count > 1 {
            throw EBPFError(
                .invalidArgument,
                "USDT probe \(spec) is in more than one place in \(place) (\(matches.map { "\($0.binaryPath):\($0)" }.joined(separator: ", "))); name the provider and the binary"
            )
        }
        return probe
    }

    static func checkPID(_ pid: Int32) throws(EBPFError) {
        if pid <= 0 { throw EBPFError(.invalidArgument, "pid \(pid) is not a process id") }
    }

    /// Attaches `fnName` of `module` at every site of `probe`, with its semaphore: one
    /// ``Attachment``, at every site or at none; the caller tracks it.
    func makeUSDTAttachment(_ probe: USDTProbe, fnName: String, pid: Int32?, module: BPFModule) throws(EBPFError)
        -> Attachment
    {
        guard let semaphore = UInt32(exactly: probe.semaphoreOffset) else {
            throw EBPFError(
                .notSupported, "the semaphore of USDT probe \(probe) lies beyond the first 4 GiB of its file")
        }
        let point = AttachPoint.usdt(probe.description, in: probe.binaryPath, pid: pid)
        var sites: [(eventName: String, offset: UInt64)] = []
        for address in probe.addresses {
            guard let offset = LibBCC.fileOffset(ofAddress: address, in: probe.reachablePath, pid: -1) else {
                throw EBPFError(
                    .notFound, "site 0x\(String(address, radix: 16)) of \(point) is in no loaded segment")
            }
            sites.append((ProbeEventName.make("p", "\(probe.binaryPath)_0x\(String(offset, radix: 16))"), offset))
        }
        let attachment = try module.withFunction(fnName, type: .kprobe) { (program) throws(EBPFError) -> Attachment in
            do throws(SystemCallFailure) {
                let hook = try LibBCC.Hook.uprobes(
                    program: program, isReturn: false, sites: sites, binaryPath: probe.reachablePath, pid: pid ?? -1,
                    semaphoreOffset: semaphore)
                return Attachment(point: point, functionName: fnName, hook: hook)
            } catch {
                throw error.error(.attachFailed, "could not attach '\(fnName)' at \(point)")
            }
        }
        return attachment
    }
}

extension USDTProbe {
    /// The USDT probes of an executable or library, as bcc's `tplist -l PATH` lists them.
    ///
    /// - Parameter binary: A path, or a library name as the linker would find it (`"c"`).
    /// - Throws: ``EBPFError/Code/notFound`` for a missing binary, ``EBPFError/Code/invalidArgument``
    ///   for a path the kernel would misread.
    public static func all(in binary: String) throws(EBPFError) -> [USDTProbe] {
        try LibBCC.requireRuntime()
        try NameValidation.binaryPath(binary)
        return try LibBCC.usdtProbes(path: try Session.locateBinary(binary, pid: -1), pid: nil)
    }

    /// The USDT probes of every binary a running process maps (its executable and its
    /// libraries), as bcc's `tplist -p PID`.
    ///
    /// - Throws: ``EBPFError/Code/notFound`` when there is no such process.
    public static func all(pid: Int32) throws(EBPFError) -> [USDTProbe] {
        try LibBCC.requireRuntime()
        try Session.checkPID(pid)
        return try LibBCC.usdtProbes(path: nil, pid: pid)
    }

}
