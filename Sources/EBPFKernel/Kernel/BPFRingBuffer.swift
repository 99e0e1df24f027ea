internal import CKernelABI

/// A `BPF_MAP_TYPE_RINGBUF` map's mapping, read by the polling thread: a consumer page the
/// reader writes its position to, a producer page the kernel writes its position to, then the
/// data, mapped twice in a row by the kernel so that no record wraps.
///
/// ``read(into:)`` consumes the records committed when it started and no more (libbpf's
/// reader loops while records keep coming, which let one busy ring starve every other
/// buffer). The map's fd stays readable while records wait, so the rest is read next time.
package final class BPFRingBuffer {
    private let consumerPage: MemoryMapping
    private let producerPages: MemoryMapping
    private let consumerPosition: UnsafeMutablePointer<UInt64>
    private let producerPosition: UnsafePointer<UInt64>
    private let data: UnsafeRawPointer
    private let mask: UInt64
    /// The ring's own descriptor of the map, readable when records are committed (closed
    /// after the mappings are gone).
    let pollable: FileDescriptor

    /// Maps the ring buffer map `map`, whose data area is `dataSize` bytes (the map's
    /// max_entries: a power of two, a multiple of the page size). The mappings keep the map
    /// alive on their own; the ring keeps a descriptor of its own to poll (`PollSet.add`).
    package init(map: borrowing BorrowedDescriptor, dataSize: Int) throws(SystemCallFailure) {
        let pageSize = MemoryMapping.pageSize
        pollable = try FileDescriptor.duplicate(map)
        consumerPage = try MemoryMapping(fd: map, size: pageSize, writable: true)
        producerPages = try MemoryMapping(
            fd: map, size: pageSize + 2 * dataSize, offset: pageSize, writable: false)
        consumerPosition = consumerPage.base.assumingMemoryBound(to: UInt64.self)
        producerPosition = UnsafePointer(producerPages.base.assumingMemoryBound(to: UInt64.self))
        data = UnsafeRawPointer(producerPages.base + pageSize)
        mask = UInt64(dataSize - 1)
    }

    /// Hands every record committed now to `callbacks`, then returns. It stops early at a
    /// record still being written (its length word has the busy bit); records after it wait.
    /// Returns how many bytes were committed meanwhile, and wait for the next read.
    @discardableResult
    package func read(into callbacks: BufferCallbacks) -> Int {
        let end = cka_load_acquire_u64(producerPosition)
        var position = consumerPosition.pointee  // Written only by this reader.
        let header = Int(BPF_RINGBUF_HDR_SZ)
        let busy = UInt32(BPF_RINGBUF_BUSY_BIT)
        let discarded = UInt32(BPF_RINGBUF_DISCARD_BIT)
        var handed = 0
        while position < end {
            let record = data + Int(position & mask)
            let word = cka_load_acquire_u32(record.assumingMemoryBound(to: UInt32.self))
            if word & busy != 0 { break }
            let length = Int(word & ~(busy | discarded))
            if word & discarded == 0 {
                callbacks.onRecord(UnsafeRawBufferPointer(start: record + header, count: length))
            }
            position += UInt64((header + length + 7) & ~7)
            // The space goes back to the producers every 256 records and at the end, not per
            // record: each store moves the consumer page's cache line to this CPU, and every
            // reservation on another CPU reads it.
            handed += 1
            if handed & 255 == 0 { cka_store_release_u64(consumerPosition, position) }
        }
        cka_store_release_u64(consumerPosition, position)
        return Int(cka_load_acquire_u64(producerPosition) &- position)
    }

    /// The ring's data size in bytes.
    package var dataSize: Int { Int(mask) + 1 }
}
