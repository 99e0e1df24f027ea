extension AggregationProgram {
    /// An aggregation's program as ``AggregationEmitter`` builds it, without clang: the
    /// filter, and where the key and the aggregated value are read in the tracepoint's
    /// record. The C text (``text``) reads the same bytes into the same key.
    struct Emission: Sendable, Hashable {
        let filter: ProbeFilter
        let key: KeyRead
        /// The aggregated field, for statistics and histograms; nil when counting, and for
        /// a latency (whose value is a time).
        let value: ValueRead?
        /// The tables' capacity in keys (a latency's tables of calls in progress too).
        let maxKeys: Int

        /// The bytes of the record that the key and the value read, or nil when one of them
        /// reads where a `__data_loc` field says.
        var recordReads: [Range<Int>]? {
            var reads: [Range<Int>] = []
            if let value { reads.append(value.value.offset..<value.value.offset + value.value.size) }
            switch key {
            case .total, .processName, .processID, .threadID, .userID, .cpu, .cgroup: break
            case .integer(let value, _): reads.append(value.offset..<value.offset + value.size)
            case .text(let capacity, .characters(let offset)): reads.append(offset..<offset + capacity)
            case .text(_, .string(.value(let pointer), _)): reads.append(pointer.offset..<pointer.offset + pointer.size)
            case .text(_, .string(.dataLocation, _)): return nil
            }
            return reads
        }
    }

    /// A field of the record read as an integer, sign- or zero-extended to 64 bits.
    struct ValueRead: Sendable, Hashable {
        let value: ProbeProgram.RecordValue
        let signed: Bool
    }

    /// What fills the key (after a histogram's slot).
    enum KeyRead: Sendable, Hashable {
        /// One total: the key stays zero.
        case total
        case processName, processID, threadID, userID, cpu, cgroup
        /// A field of the record, sign- or zero-extended to 64 bits.
        case integer(ProbeProgram.RecordValue, signed: Bool)
        /// A string of at most `capacity` bytes.
        case text(capacity: Int, TextSource)

        /// Where a string key is read.
        enum TextSource: Sendable, Hashable {
            /// A NUL-terminated string (user memory when `user`) at a pointer or a
            /// `__data_loc` field's place.
            case string(from: ProbeProgram.Fill.Pointer, user: Bool)
            /// A fixed array of characters in the record (the capacity's worth).
            case characters(recordOffset: Int)
        }
    }

    /// Where the emitted functions run and what each reads of its record, for
    /// ``SyscallRouting``: the aggregating function (a latency's at the exit), then a
    /// latency's entry, which reads nothing of it.
    var routedPoints: [(point: ResolvedPoint, reads: [Range<Int>]?)] {
        let reads = emission?.recordReads
        guard case .latency(let exit) = measure else { return [(resolved, reads)] }
        return [(exit, emission == nil ? nil : []), (resolved, emission == nil ? nil : [])]
    }

    /// The key's size in the tables: a histogram's u64 slot first, then a 64-bit value or
    /// the string's bytes, as the C's `struct ebpf_key` lays them out.
    var keySize: Int {
        let slot = isHistogram ? 8 : 0
        guard case .text(let capacity) = keyShape else { return slot + 8 }
        return isHistogram ? (slot + capacity + 7) / 8 * 8 : capacity
    }

    /// The value's size in the tables: a histogram slot's count and sum, or the count,
    /// sum, min and max.
    var valueSize: Int { isHistogram ? Self.slotSize : Self.statisticsSize }
}
