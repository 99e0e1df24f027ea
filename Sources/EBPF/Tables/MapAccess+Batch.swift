import EBPFKernel

extension MapAccess {
    /// Stores `values[i]` under `keys[i]` (each a whole key's and value's bytes, laid end to
    /// end), or with `values` nil deletes `keys`, in batches of system calls.
    ///
    /// - Throws: ``EBPFError/Code/systemCallFailed`` saying how many entries were done first.
    func batch(keys: [UInt8], values: [UInt8]?, count: Int) throws(EBPFError) {
        guard count > 0 else { return }
        let action = values == nil ? "delete" : "update"
        var done: UInt32 = UInt32(count)
        do throws(EBPFError) {
            try withMap("\(action) a batch of entries of") { (map) throws(SystemCallFailure) in
                let result = keys.withUnsafeBytes { keys in
                    Result { () throws(SystemCallFailure) in
                        if let values {
                            try values.withUnsafeBytes { values in
                                Result { () throws(SystemCallFailure) in
                                    try LibBCC.MapCalls.batch(
                                        map: map, keys: keys.baseAddress!, keySize: keySize,
                                        values: values.baseAddress!, valueSize: valueBufferSize, count: &done)
                                }
                            }.get()
                        } else {
                            try LibBCC.MapCalls.batch(
                                map: map, keys: keys.baseAddress!, keySize: keySize, values: nil,
                                valueSize: valueBufferSize, count: &done)
                        }
                    }
                }
                try result.get()
            }
        } catch {
            throw EBPFError(
                error.code, "\(error.message) (\(done) of \(count) done)", call: error.call, errno: error.errno)
        }
    }
}

extension TypedTable {
    /// Stores `values[i]` under `keys[i]` for every `i`, in as few system calls as the
    /// kernel allows (`BPF_MAP_UPDATE_BATCH`, Linux 5.6), as bcc's `items_update_batch`.
    ///
    /// - Throws: ``EBPFError/Code/invalidArgument`` when the counts differ;
    ///   ``EBPFError/Code/systemCallFailed`` saying how many were stored first (E2BIG: the
    ///   table is full).
    public func updateValues(_ values: [Value], forKeys keys: [Key]) throws(EBPFError) {
        guard values.count == keys.count else {
            throw EBPFError(.invalidArgument, "\(keys.count) keys for \(values.count) values")
        }
        try access.batch(
            keys: keys.flatMap(MapAccess.bytes(of:)), values: values.flatMap(MapAccess.bytes(of:)), count: keys.count)
    }

    /// Deletes `keys`, in as few system calls as the kernel allows
    /// (`BPF_MAP_DELETE_BATCH`, Linux 5.6), as bcc's `items_delete_batch`.
    ///
    /// - Throws: ``EBPFError/Code/notFound`` when a key is not there (those before it are
    ///   deleted; the message says how many); ``EBPFError/Code/systemCallFailed`` for an
    ///   array, whose elements cannot be deleted.
    public func removeValues(forKeys keys: [Key]) throws(EBPFError) {
        try access.batch(keys: keys.flatMap(MapAccess.bytes(of:)), values: nil, count: keys.count)
    }
}
