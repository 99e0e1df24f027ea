internal import CKernelABI

/// The two bpf(2) commands that load a kept program without libbcc: create its maps, load
/// its functions.
package enum BPFObjectCalls {
    /// `BPF_MAP_CREATE` for `map`, named as libbcc names it (its first 15 characters).
    package static func createMap(_ map: CompiledObject.Map) throws(SystemCallFailure) -> FileDescriptor {
        let number = try MemoryLockLimit.raisedOnRefusal { () throws(SystemCallFailure) in
            try SystemCall.check("bpf(BPF_MAP_CREATE)") {
                cka_bpf_map_create(
                    UInt32(bitPattern: map.table.type.rawValue), UInt32(map.table.keySize), UInt32(map.table.leafSize),
                    UInt32(map.table.maxEntries), map.flags, map.table.name)
            }
        }
        return FileDescriptor(adopting: number)
    }

    /// `BPF_PROG_LOAD` of `instructions` (map references already relocated) as `programType`.
    /// With `logLevel` 1 the verifier writes its log into `log`. `target`: where the program
    /// will attach, for the types the kernel wants told at load (``LoadTarget``).
    package static func loadProgram(
        _ name: String, instructions: [UInt64], programType: Int32, license: String, kernelVersion: UInt32,
        logLevel: Int32, log: VerifierLogBuffer, target: LoadTarget? = nil
    ) throws(SystemCallFailure) -> FileDescriptor {
        let number = try instructions.withUnsafeBufferPointer { (code) throws(SystemCallFailure) in
            try MemoryLockLimit.raisedOnRefusal { () throws(SystemCallFailure) in
                try SystemCall.check("bpf(BPF_PROG_LOAD)") {
                    cka_bpf_prog_load(
                        UInt32(bitPattern: programType), UnsafeRawPointer(code.baseAddress),
                        UInt32(instructions.count), license, kernelVersion, name, UInt32(max(0, logLevel)),
                        log.start, UInt32(log.capacity), target?.attachType ?? 0, target?.btfID ?? 0)
                }
            }
        }
        return FileDescriptor(adopting: number)
    }

    /// Where a program will attach, for the types whose load says so
    /// (`expected_attach_type`, `attach_btf_id`): a tracing program's kernel function (its
    /// BTF id, at entry or exit) or iterator, an LSM program's hook, a cgroup socket address
    /// program's operation (connect4, bind4).
    package struct LoadTarget: Hashable, Sendable {
        /// An `enum bpf_attach_type` number.
        package var attachType: UInt32
        /// The BTF id of the kernel function the program attaches to; 0 for none.
        package var btfID: UInt32

        package init(attachType: UInt32, btfID: UInt32 = 0) {
            self.attachType = attachType
            self.btfID = btfID
        }

        /// An fentry (or with `isExit`, fexit) program on the function with BTF id `functionID`.
        package init(functionID: UInt32, isExit: Bool) {
            self.init(attachType: isExit ? AttachTypes.traceFexit : AttachTypes.traceFentry, btfID: functionID)
        }
    }

    /// Loads a program that does nothing as an fentry program on `function`: nil when this
    /// kernel accepts tracing programs, else the errno it refused one with and whether a
    /// kprobe-type program loads (the process may load BPF programs at all).
    package static func probeTracingSupport(onFunctionID functionID: UInt32) -> (errno: Int32, kprobesLoad: Bool)? {
        guard let errno = probeLoad(LibBCC.ProgramTypes.tracing, LoadTarget(functionID: functionID, isExit: false))
        else { return nil }
        return (errno, probeLoad(LibBCC.ProgramTypes.kprobe, nil) == nil)
    }

    /// Loads a program that does nothing (returns 0) as `type` for `target`, and closes it:
    /// nil when the kernel took it, else the errno it refused it with.
    package static func probeLoad(_ type: Int32, _ target: LoadTarget?) -> Int32? {
        let instructions: [UInt64] = [0xB7, 0x95]  // r0 = 0; exit
        do {
            try loadProgram(
                "ebpf_probe_load", instructions: instructions, programType: type, license: "GPL",
                kernelVersion: 0, logLevel: 0, log: VerifierLogBuffer(capacity: 0), target: target
            ).close()
            return nil
        } catch {
            return error.errno
        }
    }
}
