internal import CBCC
internal import CKernelABI

#if canImport(Glibc)
import Glibc
#endif

/// Every call into libbcc, in one thin layer.
///
/// libbcc's C API changes between releases (``LibBCCRelease`` says how), so the rest of the
/// module calls these Swift functions and never a C symbol.
/// Calls that fail throw a ``SystemCallFailure`` with the `errno` read right after them.
package enum LibBCC {
    /// Every call that touches a libbcc module takes this process-wide lock:
    /// - libbcc's compiler (clang inside) is not thread-safe (bcc #4500);
    /// - every module shares one process-global table storage (`SharedTableStorage`, a
    ///   `std::map`) that creating and destroying modules change and table queries read, with
    ///   no lock of its own: two modules destroyed at once on two threads is a use-after-free
    ///   inside `bpf_module_destroy` (found by AddressSanitizer);
    /// - compiles and loads redirect the process's stdout and stderr (``OutputCapture``).
    ///
    /// It guards a count of the calls made rather than `()`: a zero-sized guarded value
    /// would share its address with the lock's own pointer, which ThreadSanitizer's
    /// exclusivity checks then report as a race. Not reentrant.
    package static let lock = Lock(0)

    package static func withLock<T: ~Copyable, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        try lock.withLock { (calls) throws(E) -> T in
            calls += 1
            return try body()
        }
    }

    /// The `bpf_prog_type` numbers of the program types the library attaches.
    package enum ProgramTypes {
        package static let kprobe = Int32(BPF_PROG_TYPE_KPROBE.rawValue)
        package static let tracepoint = Int32(BPF_PROG_TYPE_TRACEPOINT.rawValue)
        package static let perfEvent = Int32(BPF_PROG_TYPE_PERF_EVENT.rawValue)
        package static let rawTracepoint = Int32(BPF_PROG_TYPE_RAW_TRACEPOINT.rawValue)
        package static let tracing = Int32(BPF_PROG_TYPE_TRACING.rawValue)
        package static let socketFilter = Int32(BPF_PROG_TYPE_SOCKET_FILTER.rawValue)
        package static let schedCLS = Int32(BPF_PROG_TYPE_SCHED_CLS.rawValue)
        package static let xdp = Int32(BPF_PROG_TYPE_XDP.rawValue)
        package static let cgroupSKB = Int32(BPF_PROG_TYPE_CGROUP_SKB.rawValue)
        package static let cgroupSock = Int32(BPF_PROG_TYPE_CGROUP_SOCK.rawValue)
        package static let cgroupSockAddr = Int32(BPF_PROG_TYPE_CGROUP_SOCK_ADDR.rawValue)
        package static let lsm = Int32(BPF_PROG_TYPE_LSM.rawValue)
    }

    /// A compiled libbcc module (`ebpf::BPFModule *`), destroyed with this value; destroying
    /// it closes the descriptors of its maps. Use it only under ``lock``, and let it go
    /// outside the lock (its `deinit` takes it).
    package struct Module: ~Copyable, @unchecked Sendable {
        // @unchecked Sendable: `raw` is used only under `LibBCC.lock`.
        private let raw: UnsafeMutableRawPointer
        /// The compiler library's functions (the library is never closed).
        private let bcc: cbcc_compiler

        /// Compiles BPF C text; throws with the `errno` libbcc left (0 when it set none)
        /// when it fails, its diagnostics having gone to stdout and stderr.
        /// Call ``LibBCC/requireCompiler()`` first.
        package static func compile(text: String, cflags: [String]) throws(SystemCallFailure) -> Module {
            let bcc = LibBCC.compiler
            let release = try? LibBCC.compilerLibrary.get().release
            var cStrings = (cflags + (release?.compilerFlags ?? [])).map { strdup($0) }
            defer { cStrings.forEach { free($0) } }
            let (raw, errno) = cStrings.withUnsafeMutableBufferPointer { buffer in
                buffer.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: max(buffer.count, 1)) {
                    flags in
                    Glibc.errno = 0
                    let module = bcc.bpf_module_create_c_from_string!(
                        text, 0, buffer.isEmpty ? nil : flags, Int32(buffer.count), true, nil)
                    return (module, Glibc.errno)
                }
            }
            guard let raw else { throw SystemCallFailure(call: "bpf_module_create_c_from_string", errno: errno) }
            return Module(raw: raw, bcc: bcc)
        }

        private init(raw: UnsafeMutableRawPointer, bcc: cbcc_compiler) {
            self.raw = raw
            self.bcc = bcc
        }

        deinit {
            // No CompilerMemory.release() here: freeing a program must stay prompt (a wrapper's
            // close() waits for it), and under emulation release took hundreds of milliseconds.
            LibBCC.withLock { bcc.bpf_module_destroy!(raw) }
        }

        /// Gives the module up without freeing it: LeakSanitizer's negative control
        /// (scripts/test.sh) leaks one this way and must see it reported.
        package consuming func leakForLeakSanitizerControl() {
            discard self
        }

        package var functionNames: [String] {
            (0..<bcc.bpf_num_functions!(raw)).compactMap { bcc.bpf_function_name!(raw, $0).map { String(cString: $0) } }
        }

        package func hasFunction(_ name: String) -> Bool {
            bcc.bpf_function_start!(raw, name) != nil
        }

        /// Loads one function into the kernel. With `logLevel` 0, libbcc retries a failed load
        /// with logging into `log` for most errors, but not E2BIG; with `logLevel` 1 the kernel
        /// writes its verifier log into `log` on the first attempt.
        ///
        /// A program with a `target` is loaded with bpf(2), as kept programs are, never by
        /// libbcc: before 0.25 its `bcc_func_load` cannot say where a program attaches, and from
        /// 0.28 it splits an fentry's `kfunc__` name at `__` into a module and a function and
        /// overflows a 64-byte buffer (aborting the process) where the function has no `__`.
        /// `target` is what the caller found (in BTF for a name of ``BTFProgramNaming``; nil
        /// where BTF has no such function, which fails with ENOENT).
        package func loadFunction(
            _ name: String, programType: Int32, logLevel: Int32, log: VerifierLogBuffer,
            target: BPFObjectCalls.LoadTarget?
        ) throws(SystemCallFailure) -> FileDescriptor {
            let license = bcc.bpf_module_license!(raw)
            let version = bcc.bpf_module_kern_version!(raw)
            if target != nil || BTFProgramNaming.needsBTF(name, programType: programType) {
                // ENOENT where BTF has no such function (or the module no license).
                guard let license, let target else {
                    throw SystemCallFailure(call: "bpf(BPF_PROG_LOAD)", errno: ENOENT)
                }
                return try BPFObjectCalls.loadProgram(
                    name, instructions: instructionWords(name), programType: programType,
                    license: String(cString: license), kernelVersion: version, logLevel: logLevel, log: log,
                    target: target)
            }
            let start = bcc.bpf_function_start!(raw, name)?.assumingMemoryBound(to: bpf_insn.self)
            let size = Int32(bcc.bpf_function_size!(raw, name))
            let number = try SystemCall.check("bcc_func_load") {
                if let load = bcc.bcc_func_load_12 {
                    load(
                        raw, programType, name, start, size, license, version, logLevel, log.start,
                        UInt32(log.capacity), nil, -1)
                } else {
                    bcc.bcc_func_load_11!(
                        raw, programType, name, start, size, license, version, logLevel, log.start,
                        UInt32(log.capacity), nil)
                }
            }
            return FileDescriptor(adopting: number)
        }

        package var tableNames: [String] {
            (0..<bcc.bpf_num_tables!(raw)).compactMap { bcc.bpf_table_name!(raw, $0).map { String(cString: $0) } }
        }

        /// What libbcc recorded about table `name`, or nil when the module has no such table.
        package func table(_ name: String) -> TableInfo? {
            guard bcc.bpf_table_fd!(raw, name) >= 0 else { return nil }
            return TableInfo(
                name: name, type: TableType(rawValue: bcc.bpf_table_type!(raw, name)),
                keySize: bcc.bpf_table_key_size!(raw, name), leafSize: bcc.bpf_table_leaf_size!(raw, name),
                maxEntries: bcc.bpf_table_max_entries!(raw, name),
                keyDescription: bcc.bpf_table_key_desc!(raw, name).map { String(cString: $0) },
                leafDescription: bcc.bpf_table_leaf_desc!(raw, name).map { String(cString: $0) },
                submittedFields: (0..<bcc.bpf_perf_event_fields!(raw, name)).compactMap {
                    bcc.bpf_perf_event_field!(raw, name, $0).map { String(cString: $0) }
                })
        }

        /// The compiled program in a form that loads without libbcc (``CompiledObject``); nil
        /// when libbcc reports no license (the kernel needs one to load it).
        package func compiledObject() throws(CompiledObject.NotRelocatable) -> CompiledObject? {
            guard let license = bcc.bpf_module_license!(raw).map({ String(cString: $0) }) else { return nil }
            let maps = tableNames.compactMap { name in
                table(name).map {
                    CompiledObject.Map(table: $0, flags: UInt32(bitPattern: bcc.bpf_table_flags!(raw, name)))
                }
            }
            let functions = functionNames.map { (name: $0, instructions: instructionWords($0)) }
            return try CompiledObject(
                functions: functions, maps: maps, mapDescriptors: maps.map { tableFD($0.table.name) ?? -1 },
                license: license,
                kernelVersion: bcc.bpf_module_kern_version!(raw))
        }

        /// Function `name`'s instructions as compiled (map references already hold the
        /// module's descriptors), one 64-bit word each.
        private func instructionWords(_ name: String) -> [UInt64] {
            let size = bcc.bpf_function_size!(raw, name)
            var words = [UInt64](repeating: 0, count: size / 8)
            if let start = bcc.bpf_function_start!(raw, name) {
                words.withUnsafeMutableBytes {
                    $0.copyMemory(from: UnsafeRawBufferPointer(start: start, count: size / 8 * 8))
                }
            }
            return words.map { UInt64(littleEndian: $0) }
        }

        /// The descriptor of table `name`, owned by the module: valid while it lives.
        private func tableFD(_ name: String) -> Int32? {
            let fd = bcc.bpf_table_fd!(raw, name)
            return fd < 0 ? nil : fd
        }

        /// Runs `body` with the descriptor of `table`, one of this module's ``catalog()``.
        package func lend<Result: ~Copyable, Failure: Error>(
            _ table: Catalog.Table, _ body: (borrowing BorrowedDescriptor) throws(Failure) -> Result
        ) throws(Failure) -> Result {
            try body(BorrowedDescriptor(lending: table.descriptor))
        }

        /// Everything the module's users ask of it but loads: read once, under the lock,
        /// so that table operations need neither libbcc nor its lock afterwards.
        package func catalog() -> Catalog {
            Catalog(
                functionNames: functionNames,
                tables: tableNames.compactMap { name in
                    guard let info = table(name), let fd = tableFD(name) else { return nil }
                    return Catalog.Table(info: info, descriptor: fd)
                })
        }
    }

    /// A program's functions and tables, as they stay for its lifetime; the table
    /// descriptors are the program's (valid while it lives).
    package struct Catalog: Sendable {
        /// A table, and its descriptor, which the program owns: lent only by the program
        /// (``Module/lend(_:_:)``, ``KeptProgram/lend(_:_:)``), which is borrowed meanwhile.
        package struct Table: Sendable {
            package let info: TableInfo
            let descriptor: Int32
        }

        package let functionNames: [String]
        package let tables: [Table]
    }

    // MARK: Attaching

    /// What an attach call created in the kernel; letting it go detaches it.
    package struct Hook: ~Copyable, Sendable {
        private enum Cleanup: ~Copyable, Sendable {
            /// Perf events (tracepoints, perf events, kprobes, uprobes): disabled and closed,
            /// then the tracefs events libbcc made for kprobes or uprobes where the kernel
            /// has no probe PMU.
            case perfEvents(DescriptorGroup, kprobeEvents: [String], uprobeEvents: [String])
            /// A BPF link (raw tracepoints, fentry, fexit, LSM, XDP, tcx, cgroups), or a raw
            /// socket the library opened: closing it detaches.
            case link(FileDescriptor)
            /// An entry of a dispatcher's program array: emptied.
            case routeEntry(ProgramArrayRoute, key: UInt32)
            /// A program attached to a cgroup with BPF_PROG_ATTACH, which outlives the
            /// process: detached with BPF_PROG_DETACH.
            case cgroupAttachment(program: FileDescriptor, cgroup: FileDescriptor, attachType: UInt32, multi: Bool)
            /// A tc classifier added through rtnetlink: deleted (``TrafficControlCalls``).
            case classifier(interfaceIndex: UInt32, egress: Bool, priority: UInt32)
        }

        private let cleanup: Cleanup

        private init(perfEvents: consuming DescriptorGroup, kprobeEvents: [String] = [], uprobeEvents: [String] = []) {
            cleanup = .perfEvents(perfEvents, kprobeEvents: kprobeEvents, uprobeEvents: uprobeEvents)
        }

        private init(link: consuming FileDescriptor) {
            cleanup = .link(link)
        }

        init(route: ProgramArrayRoute, key: UInt32) {
            cleanup = .routeEntry(route, key: key)
        }

        init(perfEventGroup events: consuming DescriptorGroup) {
            cleanup = .perfEvents(events, kprobeEvents: [], uprobeEvents: [])
        }

        /// A link or raw socket: closing it detaches.
        init(closing link: consuming FileDescriptor) {
            cleanup = .link(link)
        }

        init(classifier interfaceIndex: UInt32, egress: Bool, priority: UInt32) {
            cleanup = .classifier(interfaceIndex: interfaceIndex, egress: egress, priority: priority)
        }

        init(
            cgroupProgram program: consuming FileDescriptor, cgroup: consuming FileDescriptor, attachType: UInt32,
            multi: Bool
        ) {
            cleanup = .cgroupAttachment(program: program, cgroup: cgroup, attachType: attachType, multi: multi)
        }

        deinit {
            switch consume cleanup {
            case .perfEvents(let events, let kprobeEvents, let uprobeEvents):
                events.close()
                for name in kprobeEvents { _ = LibBCC.runtime.bpf_detach_kprobe!(name) }
                for name in uprobeEvents { _ = LibBCC.runtime.bpf_detach_uprobe!(name) }
            case .link(let link):
                link.close()
            case .routeEntry(let route, let key):
                route.remove(key)
            case .cgroupAttachment(let program, let cgroup, let attachType, let multi):
                LibBCC.Hook.detachCgroupProgram(program, cgroup: cgroup, attachType: attachType, multi: multi)
            case .classifier(let interfaceIndex, let egress, let priority):
                TrafficControlCalls.detachClassifier(interfaceIndex: interfaceIndex, egress: egress, priority: priority)
            }
        }

        /// Detaches now.
        package consuming func detach() {}

        /// Pins the hook's link at `path` (a BPF filesystem's), which keeps the program
        /// attached until the pin is removed; false for a hook that is not a link.
        package func pin(at path: String) throws(SystemCallFailure) -> Bool {
            switch cleanup {
            case .link(let link):
                try link.lend { (link) throws(SystemCallFailure) in try ObjectPins.pin(link, at: path) }
                return true
            default:
                return false
            }
        }

        package static func tracepoint(
            program: borrowing BorrowedDescriptor, category: String, name: String
        ) throws(SystemCallFailure) -> Hook {
            var events = DescriptorGroup(.perfEvent)
            events.adopt(
                try SystemCall.check("bpf_attach_tracepoint") {
                    LibBCC.runtime.bpf_attach_tracepoint!(program.rawValue, category, name)
                })
            return Hook(perfEvents: events)
        }

        /// The tracepoint with perf id `id`, attached without libbcc, which would read the id
        /// from tracefs again and open the event on CPU 0 (an inter-processor call per attach
        /// from any other CPU).
        package static func tracepoint(program: borrowing BorrowedDescriptor, id: Int) throws(SystemCallFailure) -> Hook
        {
            var events = DescriptorGroup(.perfEvent)
            events.adopt(
                try SystemCall.check("perf_event_open(tracepoint)") {
                    cka_attach_tracepoint(UInt64(id), program.rawValue)
                })
            return Hook(perfEvents: events)
        }

        /// An fentry or fexit program (loaded with its function's BTF id) attached through a
        /// BPF link; closing the link detaches it.
        package static func kernelFunction(program: borrowing BorrowedDescriptor) throws(SystemCallFailure) -> Hook {
            let number = try SystemCall.check("bpf_attach_kfunc") { LibBCC.runtime.bpf_attach_kfunc!(program.rawValue) }
            return Hook(link: FileDescriptor(adopting: number))
        }

        package static func rawTracepoint(
            program: borrowing BorrowedDescriptor, name: String
        ) throws(SystemCallFailure) -> Hook {
            let number = try SystemCall.check("bpf_attach_raw_tracepoint") {
                LibBCC.runtime.bpf_attach_raw_tracepoint!(program.rawValue, name)
            }
            return Hook(link: FileDescriptor(adopting: number))
        }

        package static func kprobe(
            program: borrowing BorrowedDescriptor, isReturn: Bool, eventName: String, function: String,
            offset: UInt64, maxActive: Int32
        ) throws(SystemCallFailure) -> Hook {
            var events = DescriptorGroup(.perfEvent)
            events.adopt(
                try SystemCall.check("bpf_attach_kprobe") {
                    LibBCC.runtime.bpf_attach_kprobe!(
                        program.rawValue, isReturn ? BPF_PROBE_RETURN : BPF_PROBE_ENTRY, eventName, function, offset,
                        maxActive)
                })
            return Hook(perfEvents: events, kprobeEvents: [eventName])
        }

        /// A uprobe at each of `sites` in the open file `binary`, all or nothing (through its
        /// `/proc/self/fd` path, so the kernel attaches to this file whatever its path names
        /// by now).
        package static func uprobes(
            program: borrowing BorrowedDescriptor, isReturn: Bool, sites: [(eventName: String, offset: UInt64)],
            binary: borrowing FileDescriptor, pid: Int32
        ) throws(SystemCallFailure) -> Hook {
            try uprobes(program: program, isReturn: isReturn, sites: sites, binaryPath: binary.procPath, pid: pid)
        }

        /// A uprobe at each of `sites` (the event name to create, the file offset), all or
        /// nothing. A semaphore offset makes the kernel raise the 16-bit counter there in
        /// every process the probes go into, and lower it on detach: a USDT semaphore.
        package static func uprobes(
            program: borrowing BorrowedDescriptor, isReturn: Bool, sites: [(eventName: String, offset: UInt64)],
            binaryPath: String, pid: Int32, semaphoreOffset: UInt32 = 0
        ) throws(SystemCallFailure) -> Hook {
            var events = DescriptorGroup(.perfEvent)
            var names: [String] = []
            for site in sites {
                do {
                    events.adopt(
                        try SystemCall.check("bpf_attach_uprobe") {
                            LibBCC.runtime.bpf_attach_uprobe!(
                                program.rawValue, isReturn ? BPF_PROBE_RETURN : BPF_PROBE_ENTRY, site.eventName,
                                binaryPath, site.offset, pid, semaphoreOffset)
                        })
                    names.append(site.eventName)
                } catch {
                    _ = Hook(perfEvents: events, uprobeEvents: names)  // Detaches the ones attached so far.
                    throw error
                }
            }
            return Hook(perfEvents: events, uprobeEvents: names)
        }

        /// One perf event per entry of `cpus` (-1: follow `pid` on any CPU); all or nothing.
        package static func perfEvents(
            program: borrowing BorrowedDescriptor, type: UInt32, config: UInt32, samplePeriod: UInt64,
            sampleFrequency: UInt64, pid: Int32, cpus: [Int32]
        ) throws(SystemCallFailure) -> Hook {
            var events = DescriptorGroup(.perfEvent)
            for cpu in cpus {
                // The ones opened so far close with `events` if one fails.
                events.adopt(
                    try SystemCall.check("bpf_attach_perf_event") {
                        LibBCC.runtime.bpf_attach_perf_event!(
                            program.rawValue, type, config, samplePeriod, sampleFrequency, pid, cpu, -1)
                    })
            }
            return Hook(perfEvents: events)
        }
    }

    // MARK: Symbols

    /// Resolves `symbol` in `module` (a path or a library name such as "c") to the file that
    /// holds it and the symbol's offset in that file.
    package static func resolveSymbol(module: String, symbol: String, pid: Int32) -> (path: String, offset: UInt64)? {
        guard let bcc = LibBCC.symbols else { return nil }
        var resolved = bcc_symbol()
        defer { if let path = resolved.module { bcc.bcc_procutils_free!(path) } }
        guard bcc.bcc_resolve_symname!(module, symbol, 0, pid, nil, &resolved) == 0,
            let path = resolved.module
        else {
            return nil
        }
        return (String(cString: path), resolved.offset)
    }

    /// Resolves `symbol` in the open file `file`, whatever its path names by now.
    package static func resolveSymbol(
        in file: borrowing FileDescriptor, symbol: String, pid: Int32
    ) -> (path: String, offset: UInt64)? {
        resolveSymbol(module: file.procPath, symbol: symbol, pid: pid)
    }

    /// The file offset of the virtual address `address` of the binary at `path` (what a
    /// uprobe takes), as process `pid` (-1: any) sees the file.
    package static func fileOffset(ofAddress address: UInt64, in path: String, pid: Int32) -> UInt64? {
        guard let bcc = LibBCC.symbols else { return nil }
        var resolved = bcc_symbol()
        defer { if let path = resolved.module { bcc.bcc_procutils_free!(path) } }
        guard bcc.bcc_resolve_symname!(path, nil, address, pid, nil, &resolved) == 0 else { return nil }
        return resolved.offset
    }

    /// The path of a shared library by name ("c" finds libc.so.6), as the dynamic loader would.
    package static func whichLibrary(_ name: String, pid: Int32) -> String? {
        guard let path = LibBCC.symbols?.bcc_procutils_which_so!(name, pid) else { return nil }
        defer { free(path) }
        return String(cString: path)
    }
}

/// What libbcc recorded about one table (map) of a compiled program.
package struct TableInfo: Sendable, Equatable {
    package var name: String
    package var type: TableType
    package var keySize: Int
    package var leafSize: Int
    package var maxEntries: Int
    package var keyDescription: String?
    package var leafDescription: String?
    /// `name#type` of the struct the program submits to this table, if it is a perf or ring
    /// buffer that libbcc saw `perf_submit`/`ringbuf_output`/`ringbuf_submit` called on.
    package var submittedFields: [String]

    package init(
        name: String, type: TableType, keySize: Int, leafSize: Int, maxEntries: Int, keyDescription: String?,
        leafDescription: String?, submittedFields: [String]
    ) {
        self.name = name
        self.type = type
        self.keySize = keySize
        self.leafSize = leafSize
        self.maxEntries = maxEntries
        self.keyDescription = keyDescription
        self.leafDescription = leafDescription
        self.submittedFields = submittedFields
    }
}
