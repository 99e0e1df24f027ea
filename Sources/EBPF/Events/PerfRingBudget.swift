import Synchronization

/// The memory a wrapper's automatically sized perf rings may pin.
///
/// A perf ring is locked kernel memory on every CPU. Sized from the record size alone, a
/// buffer of large records would take 8 MiB per CPU: 1 GiB on a 128-CPU host, for each
/// probe. So automatic sizing stays within ``PerfBufferOptions/automaticBytesPerBuffer`` per
/// buffer and ``PerfBufferOptions/automaticBytesPerWrapper`` per wrapper, all CPUs counted;
/// a ring given an explicit ``PerfBufferOptions/pageCount`` is the caller's choice and is
/// not counted.
final class PerfRingBudget: Sendable {
    private let usedBytes = Mutex<Int>(0)

    /// Reserves rings for a buffer that would like `wantedPages` per CPU on `cpus` CPUs and
    /// returns the pages per CPU it gets; ``release(pagesPerCPU:cpus:)`` gives them back.
    func reserve(wantedPages: Int, cpus: Int) -> Int {
        usedBytes.withLock { used in
            let pages = Self.pages(
                wanted: wantedPages, cpus: cpus, bytesLeft: PerfBufferOptions.automaticBytesPerWrapper - used)
            used += Self.bytes(pagesPerCPU: pages, cpus: cpus)
            return pages
        }
    }

    func release(pagesPerCPU: Int, cpus: Int) {
        usedBytes.withLock { $0 -= Self.bytes(pagesPerCPU: pagesPerCPU, cpus: cpus) }
    }

    /// The largest power of two of pages per CPU that is at most `wanted` and keeps the
    /// buffer within its own limit and within `bytesLeft` of the wrapper's; never fewer than
    /// ``PerfBufferOptions/minimumAutomaticPageCount``.
    static func pages(wanted: Int, cpus: Int, bytesLeft: Int) -> Int {
        let limit = min(PerfBufferOptions.automaticBytesPerBuffer, bytesLeft)
        var pages = max(wanted, PerfBufferOptions.minimumAutomaticPageCount)
        while pages > PerfBufferOptions.minimumAutomaticPageCount, bytes(pagesPerCPU: pages, cpus: cpus) > limit {
            pages /= 2
        }
        return pages
    }

    private static func bytes(pagesPerCPU: Int, cpus: Int) -> Int {
        pagesPerCPU * 4096 * cpus
    }
}
