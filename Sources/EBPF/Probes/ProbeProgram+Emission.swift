extension ProbeProgram {
    /// A tracepoint probe's program as ``ProbeEmitter`` builds it: the filter, then one
    /// ``Fill`` per statement of the C body, in order, at the offsets the C struct has.
    struct Emission: Sendable, Hashable {
        let filter: ProbeFilter
        let fills: [Fill]
    }

    /// A scalar of the tracepoint's record, naturally aligned (as the kernel requires of a
    /// tracepoint program's context loads).
    struct RecordValue: Sendable, Hashable {
        let offset: Int
        /// 1, 2, 4 or 8 bytes.
        let size: Int
    }

    /// One statement of the program's body: what it writes at which offset of the record
    /// the program submits, and where it reads it.
    enum Fill: Sendable, Hashable {
        /// The low `size` bytes of `value` (as C truncates it to the member's type).
        case scalar(at: Int, size: Int, value: RecordValue)
        /// `size` bytes of the record at `recordOffset` (`bpf_probe_read_kernel`).
        case copy(at: Int, size: Int, recordOffset: Int)
        /// A NUL-terminated string of at most `capacity` bytes.
        case string(at: Int, capacity: Int, from: Pointer, user: Bool)
        /// `length` bytes, at most `capacity`, with the count copied stored as a u32 at
        /// `lengthAt` (0 when the copy fails).
        case bytes(at: Int, capacity: Int, lengthAt: Int, length: Length, from: Pointer, user: Bool)
        /// Up to `count` strings of at most `elementSize` bytes each, from a NULL-terminated
        /// array of pointers at the address `from` holds (`argv`), the number copied as a u32
        /// at `countAt`.
        case strings(at: Int, count: Int, elementSize: Int, countAt: Int, from: RecordValue, user: Bool)

        /// Where copied data lies.
        enum Pointer: Sendable, Hashable {
            /// At the address a field of the record holds.
            case value(RecordValue)
            /// In the record itself, where a `__data_loc` u32 at `offset` says: its low 16
            /// bits are the data's offset in the record.
            case dataLocation(offset: Int)
        }

        /// How many bytes to copy.
        enum Length: Sendable, Hashable {
            /// A field of the record.
            case value(RecordValue)
            /// The high 16 bits of a `__data_loc` u32 at `offset`.
            case dataLocation(offset: Int)
        }
    }

    /// The bytes of the tracepoint's record the fills read, or nil when one of them reads
    /// where a `__data_loc` field says (anywhere in the record).
    var recordReads: [Range<Int>]? {
        var reads: [Range<Int>] = []
        func read(_ value: RecordValue) { reads.append(value.offset..<value.offset + value.size) }
        func read(_ pointer: Fill.Pointer) -> Bool {
            guard case .value(let value) = pointer else { return false }
            read(value)
            return true
        }
        for fill in emission?.fills ?? [] {
            switch fill {
            case .scalar(_, _, let value): read(value)
            case .copy(_, let size, let offset): reads.append(offset..<offset + size)
            case .string(_, _, let pointer, _): guard read(pointer) else { return nil }
            case .bytes(_, _, _, let length, let pointer, _):
                guard case .value(let value) = length, read(pointer) else { return nil }
                read(value)
            case .strings(_, _, _, _, let array, _): read(array)
            }
        }
        return reads
    }

    /// The name of the per-CPU array the program fills its record in.
    var scratchName: String {
        "ebpf_scratch" + functionName.dropFirst(Self.standaloneFunctionName.count)
    }
}
