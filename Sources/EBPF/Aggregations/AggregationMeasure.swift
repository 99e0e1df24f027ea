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
    /// A log2 histogram of nanoseconds from a syscall's entry to its exit on the same thread
    /// (`sys_enter_<name>` to `sys_exit_<name>`), as bcc's `funclatency` and bpftrace's
    /// `hist(nsecs - @start[tid])`.
    case latency
}
