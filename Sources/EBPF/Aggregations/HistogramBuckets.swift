import EBPFKernel

/// How a histogram aggregation puts values into buckets.
///
/// ```swift
/// let sizes = try b.aggregate(.syscall("read"), .histogram(of: "count", buckets: .linear(min: 0, max: 4096, step: 512)))
/// ```
public enum HistogramBuckets: Sendable, Hashable {
    /// Powers of two, as bcc's `bpf_log2l` and bpftrace's `hist()`: 0–1, 2–3, 4–7, …;
    /// values below zero are counted apart.
    case log2
    /// Buckets `step` wide from `min` up to `max`, as bpftrace's `lhist(v, min, max, step)`:
    /// values below `min` and from `max` up are counted apart. `min` is at least 0, `max -
    /// min` a multiple of `step`, and at most 1,000 buckets fit.
    case linear(min: Int64, max: Int64, step: Int64)

    /// The most buckets of a linear histogram.
    public static let maximumLinearBuckets = 1_000

    /// Slots in the kernel: for log2, 0 (below zero) and 1 to 64; for linear, 0 (below
    /// `min`), one per bucket, and the last (`max` and above).
    var slotCount: Int {
        switch self {
        case .log2: return 65
        case .linear(let min, let max, let step): return Int((max - min) / step) + 2
        }
    }

    /// The C expression of `value`'s slot (`value` an s64).
    func slotExpression(_ value: String) -> String {
        switch self {
        case .log2:
            // bcc's slots: 0 and 1 in slot 1, then 2^(n-1) to 2^n - 1 in slot n; below zero
            // in slot 0.
            return "\(value) < 0 ? 0 : bpf_log2l((u64)\(value))"
        case .linear(let min, let max, let step):
            return
                "\(value) < \(min) ? 0 : \(value) >= \(max) ? \(slotCount - 1) : 1 + (u64)(\(value) - \(min)) / \(step)"
        }
    }

    /// Checks the ranges of linear buckets, as the histogram calls do.
    ///
    /// - Throws: ``EBPFError/Code/invalidArgument`` saying which condition fails.
    public func validate() throws(EBPFError) {
        guard case .linear(let min, let max, let step) = self else { return }
        guard min >= 0, max > min, step > 0 else {
            throw EBPFError(
                .invalidArgument,
                "linear buckets need 0 <= min < max and step > 0; got min \(min), max \(max), step \(step)")
        }
        guard (max - min) % step == 0 else {
            throw EBPFError(
                .invalidArgument,
                "linear buckets from \(min) to \(max) by \(step): max - min must be a multiple of step, so that every bucket is step wide"
            )
        }
        guard (max - min) / step <= Int64(Self.maximumLinearBuckets) else {
            throw EBPFError(
                .invalidArgument,
                "linear buckets from \(min) to \(max) by \(step) are \((max - min) / step) buckets; at most \(Self.maximumLinearBuckets) fit: use a larger step"
            )
        }
    }
}
