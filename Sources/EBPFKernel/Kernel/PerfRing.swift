internal import CKernelABI

/// One CPU's perf ring: the PERF_COUNT_SW_BPF_OUTPUT event that a `BPF_PERF_OUTPUT` table's
/// slot for that CPU points at, and its mapping: a metadata page, then `pageCount` data pages
/// that the kernel writes records into and the reader consumes.
///
/// ``read(into:)`` consumes the records that were in the ring when it started and no more.
/// libbcc's reader loops until the ring is empty, so a producer faster than the callbacks kept
/// the one polling thread in one ring while every other ring filled and dropped its records.
package final class PerfRing {
    /// The perf event: what the table's slot for this CPU holds, and what the poller waits
    /// on (`PollSet.add`).
    let event: FileDescriptor
    private let mapping: MemoryMapping
    /// The metadata page's data_head (the kernel's write position) and data_tail (ours).
    private let head: UnsafePointer<UInt64>
    private let tail: UnsafeMutablePointer<UInt64>
    private let data: UnsafeRawPointer
    private let dataSize: UInt64
    /// A record that wraps past the ring's end is copied here to be contiguous.
    private var wrapped: [UInt8] = []

    /// Opens and maps CPU `cpu`'s ring. `pageCount` must be a power of two (the kernel's
    /// rule); the kernel wakes the poller after every `wakeupEvents` records.
    package init(cpu: Int32, pageCount: Int, wakeupEvents: Int) throws(SystemCallFailure) {
        event = FileDescriptor(
            adopting: try SystemCall.check("perf_event_open(bpf-output)") {
                cka_open_bpf_output_event(cpu, UInt32(wakeupEvents))
            })
        let pageSize = MemoryMapping.pageSize
        mapping = try MemoryMapping(fd: event, size: pageSize * (pageCount + 1), writable: true)
        let page = MemoryLayout<perf_event_mmap_page>.self
        head = UnsafePointer((mapping.base + page.offset(of: \.data_head)!).assumingMemoryBound(to: UInt64.self))
        tail = (mapping.base + page.offset(of: \.data_tail)!).assumingMemoryBound(to: UInt64.self)
        data = UnsafeRawPointer(mapping.base + pageSize)
        dataSize = UInt64(pageSize * pageCount)
    }

    /// Stores the ring in slot `cpu` of `map` (a `BPF_PERF_OUTPUT` table), which is where
    /// `perf_submit` on that CPU writes.
    package func register(in map: borrowing BorrowedDescriptor, cpu: Int32) throws(SystemCallFailure) {
        var key = cpu
        var value = event.rawValue
        try LibBCC.MapCalls.update(map: map, key: &key, value: &value, flags: 0)
    }

    /// Hands every record that is in the ring now to `callbacks`, then returns. Records the
    /// kernel writes meanwhile wait for the next read; each read frees the space of every
    /// record it handed over, record by record, so the kernel can write again at once.
    package func read(into callbacks: BufferCallbacks) {
        let end = cka_load_acquire_u64(head)
        var position = tail.pointee  // Written only by this reader.
        while position < end {
            let offset = Int(position % dataSize)
            // Records are 8-byte aligned and start with an 8-byte header, which never wraps.
            let type = data.load(fromByteOffset: offset, as: UInt32.self)
            let size = Int(data.load(fromByteOffset: offset + 6, as: UInt16.self))
            guard size >= MemoryLayout<perf_event_header>.size, UInt64(size) <= end - position else {
                cka_store_release_u64(tail, end)  // A corrupt header: nothing after it can be trusted.
                return
            }
            withContiguousRecord(at: offset, size: size) { record in
                Self.deliver(type: type, record: record, to: callbacks)
            }
            position += UInt64(size)
            cka_store_release_u64(tail, position)
        }
    }

    private func withContiguousRecord(
        at offset: Int, size: Int, _ body: (UnsafeRawBufferPointer) -> Void
    ) {
        let untilEnd = Int(dataSize) - offset
        guard size > untilEnd else {
            body(UnsafeRawBufferPointer(start: data + offset, count: size))
            return
        }
        if wrapped.count < size { wrapped = [UInt8](repeating: 0, count: size) }
        wrapped.withUnsafeMutableBytes { copy in
            copy.baseAddress!.copyMemory(from: data + offset, byteCount: untilEnd)
            (copy.baseAddress! + untilEnd).copyMemory(from: data, byteCount: size - untilEnd)
            body(UnsafeRawBufferPointer(start: copy.baseAddress, count: size))
        }
    }

    /// A PERF_RECORD_SAMPLE with PERF_SAMPLE_RAW is the header, a u32 size and that many bytes;
    /// a PERF_RECORD_LOST is the header, a u64 id and the u64 count of records dropped.
    private static func deliver(type: UInt32, record: UnsafeRawBufferPointer, to callbacks: BufferCallbacks) {
        let header = MemoryLayout<perf_event_header>.size
        switch type {
        case PERF_RECORD_SAMPLE.rawValue where record.count >= header + 4:
            let rawSize = Int(record.load(fromByteOffset: header, as: UInt32.self))
            guard header + 4 + rawSize <= record.count else { return }
            callbacks.onRecord(UnsafeRawBufferPointer(rebasing: record[(header + 4)..<(header + 4 + rawSize)]))
        case PERF_RECORD_LOST.rawValue where record.count >= header + 16:
            callbacks.onLost(record.loadUnaligned(fromByteOffset: header + 8, as: UInt64.self))
        default:
            break
        }
    }
}
