internal import CKernelABI

/// The two bpf(2) commands that load a kept program without libbcc: create its maps, load
/// its functions.
enum BPFObjectCalls {
    /// `BPF_MAP_CREATE` for `map`, named as libbcc names it (its first 15 characters). The
    /// caller owns the returned descriptor.
    static func createMap(_ map: CompiledObject.Map) throws(SystemCallFailure) -> Int32 {
        try SystemCall.check("bpf(BPF_MAP_CREATE)") {
            cka_bpf_map_create(
                UInt32(bitPattern: map.table.type.rawValue), UInt32(map.table.keySize), UInt32(map.table.leafSize),
                UInt32(map.table.maxEntries), map.flags, map.table.name)
        }
    }

    /// `BPF_PROG_LOAD` of `instructions` (map references already relocated) as `programType`.
    /// With `logLevel` 1 the verifier writes its log into `log`. The caller owns the returned
    /// descriptor (``FileDescriptor/init(adopting:)``).
    static func loadProgram(
        _ name: String, instructions: [UInt64], programType: Int32, license: String, kernelVersion: UInt32,
        logLevel: Int32, log: VerifierLogBuffer
    ) throws(SystemCallFailure) -> Int32 {
        try instructions.withUnsafeBufferPointer { (code) throws(SystemCallFailure) in
            try SystemCall.check("bpf(BPF_PROG_LOAD)") {
                cka_bpf_prog_load(
                    UInt32(bitPattern: programType), UnsafeRawPointer(code.baseAddress), UInt32(instructions.count),
                    license,
                    kernelVersion, name, UInt32(max(0, logLevel)), log.start, UInt32(log.capacity))
            }
        }
    }
}
