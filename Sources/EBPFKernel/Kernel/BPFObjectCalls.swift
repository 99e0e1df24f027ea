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
    /// With `logLevel` 1 the verifier writes its log into `log`. A tracing program names the
    /// kernel function it attaches to by its BTF id, and whether at entry or exit
    /// (`expected_attach_type`).
    package static func loadProgram(
        _ name: String, instructions: [UInt64], programType: Int32, license: String, kernelVersion: UInt32,
        logLevel: Int32, log: VerifierLogBuffer, tracing: TracingTarget? = nil
    ) throws(SystemCallFailure) -> FileDescriptor {
        let number = try instructions.withUnsafeBufferPointer { (code) throws(SystemCallFailure) in
            try MemoryLockLimit.raisedOnRefusal { () throws(SystemCallFailure) in
                try SystemCall.check("bpf(BPF_PROG_LOAD)") {
                    cka_bpf_prog_load(
                        UInt32(bitPattern: programType), UnsafeRawPointer(code.baseAddress),
                        UInt32(instructions.count), license, kernelVersion, name, UInt32(max(0, logLevel)),
                        log.start, UInt32(log.capacity), tracing?.attachType ?? 0, tracing?.functionID ?? 0)
                }
            }
        }
        return FileDescriptor(adopting: number)
    }

    /// Where a tracing program attaches: a kernel function's BTF id, at entry or exit.
    package struct TracingTarget {
        package var functionID: UInt32
        package var isExit: Bool
        package var attachType: UInt32 { isExit ? UInt32(BPF_TRACE_FEXIT.rawValue) : UInt32(BPF_TRACE_FENTRY.rawValue) }

        package init(functionID: UInt32, isExit: Bool) {
            self.functionID = functionID
            self.isExit = isExit
        }
    }

    /// Loads a program that does nothing as an fentry program on `function`: nil when this
    /// kernel accepts tracing programs, else the errno it refused one with and whether a
    /// kprobe-type program loads (the process may load BPF programs at all).
    package static func probeTracingSupport(onFunctionID functionID: UInt32) -> (errno: Int32, kprobesLoad: Bool)? {
        let instructions: [UInt64] = [0xB7, 0x95]  // r0 = 0; exit
        let log = VerifierLogBuffer(capacity: 0)
        func load(_ type: Int32, _ tracing: TracingTarget?) -> Int32? {
            do {
                try loadProgram(
                    "ebpf_probe_load", instructions: instructions, programType: type, license: "GPL",
                    kernelVersion: 0, logLevel: 0, log: log, tracing: tracing
                ).close()
                return nil
            } catch {
                return error.errno
            }
        }
        guard let errno = load(LibBCC.ProgramTypes.tracing, TracingTarget(functionID: functionID, isExit: false))
        else { return nil }
        return (errno, load(LibBCC.ProgramTypes.kprobe, nil) == nil)
    }
}
