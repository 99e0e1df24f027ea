#if canImport(Glibc)
import Glibc
#endif

/// A `BPF_PERF_OUTPUT` table's per-CPU perf rings, read by the polling thread.
final class PerfBufferSource: EventSource, @unchecked Sendable {
    // @unchecked Sendable: `readers` never changes after init; `module` changes only in
    // release(). The poller calls drain() on its thread only and release() exactly once when
    // no drain runs (EventPoller's contract).

    let pollDescriptors: [Int32]
    let needsTimedDrain: Bool
    private let readers: [LibBCC.PerfReader]
    private let callbacks: BufferCallbacks
    /// Keeps the module, and so the perf event array map, alive until release(); dropped there so a
    /// handle that outlives the buffer does not keep the program's file descriptors open.
    private var module: BPFModule?

    /// Opens one perf ring per online CPU and stores each ring's fd in the table at that
    /// CPU's index, which is where `perf_submit` on that CPU writes.
    /// `recordSize` (0 when unknown) sizes the ring when `options.pageCount` is nil.
    init(
        table: TableInfo, module: BPFModule, options: PerfBufferOptions, recordSize: Int,
        callbacks: BufferCallbacks
    ) throws(EBPFError) {
        try options.validate()
        let pageCount = options.pages(forRecordSize: recordSize)
        var readers: [LibBCC.PerfReader] = []
        for cpu in try SystemFiles.onlineCPUs() {
            let (reader, error) = LibBCC.openPerfReader(
                callbacks: callbacks, pageCount: Int32(pageCount), cpu: cpu,
                wakeupEvents: Int32(options.wakeupEvents))
            guard let reader else {
                readers.forEach(LibBCC.freePerfReader)
                throw EBPFError.fromErrno(
                    .systemCallFailed,
                    "could not open the perf ring of CPU \(cpu) for '\(table.name)' (\(pageCount) pages); if the error is ENOMEM or EPERM, lower pageCount or raise perf_event_mlock_kb",
                    call: "bpf_open_perf_buffer_opts", errno: error)
            }
            readers.append(reader)
            var key = cpu
            var fd = LibBCC.perfReaderFD(reader)
            let update = LibBCC.updateElement(fd: table.fd, key: &key, value: &fd)
            if update.failed {
                readers.forEach(LibBCC.freePerfReader)
                throw EBPFError.fromErrno(
                    .systemCallFailed,
                    "could not register CPU \(cpu)'s perf ring in table '\(table.name)'",
                    call: "bpf_update_elem", errno: update.errno)
            }
        }
        self.readers = readers
        self.pollDescriptors = readers.map(LibBCC.perfReaderFD)
        self.needsTimedDrain = options.wakeupEvents > 1
        self.callbacks = callbacks
        self.module = module
    }

    func drain() {
        for reader in readers {
            LibBCC.readPerfReader(reader)
        }
    }

    func release() {
        readers.forEach(LibBCC.freePerfReader)
        module = nil
    }
}
