/// What an aggregation keeps of each key's events, as bpftrace's map functions.
public enum AggregationMeasure: Sendable, Hashable {
    /// How many there were: bpftrace's `count()`, bcc's `counts.increment(key)`.
    case count
    /// How many, and the sum, minimum and maximum of the integer `field` (`read`'s
    /// `count`): bpftrace's `stats()`, `sum()`, `min()` and `max()` at once.
    case statistics(of: String)
    /// How many values of the integer `field` (`read`'s `count`; `ret` at a
    /// `.syscallExit`) fell into each power-of-two range, as bcc's
    /// `dist.increment(bpf_log2l(value))` and bpftrace's `hist()`, or into each of
    /// `.linear` buckets, as bpftrace's `lhist()`.
    case histogram(of: String, buckets: HistogramBuckets = .log2)
    /// A log2 histogram of nanoseconds from each call's entry to its return on the same
    /// thread, as bcc's `funclatency` and bpftrace's `hist(nsecs - @start[tid])`: a
    /// syscall's entry to its exit, a kprobe to its kretprobe, a uprobe to its uretprobe,
    /// fentry to fexit (the point's ``AttachPoint/returnPoint``). A thread's calls in
    /// progress are kept by depth, so under recursion each call is timed from its own entry.
    case latency
}
