import EBPFKernel

extension EBPFWrapper {
    /// Reads the next event line from the kernel's trace pipe, where `bpf_trace_printk`
    /// writes, split into task, pid, cpu, flags, timestamp and message, as bcc's
    /// `trace_fields()`. Lines that are not events (lost-event notices) are skipped.
    ///
    /// - Parameter timeout: How long to wait in all; nil waits until a line arrives or the
    ///   wrapper is closed.
    /// - Returns: The fields, or nil if the timeout passed or the wrapper was closed first.
    /// - Throws: ``EBPFError/Code/tracefsUnavailable`` when tracefs is not mounted,
    ///   ``EBPFError/Code/closed`` when called after ``close()``.
    public func traceFields(timeout: Duration? = nil) throws(EBPFError) -> TraceLine? {
        let deadline = timeout.map { ContinuousClock.now + $0 }
        while true {
            let remaining = deadline.map { max(.zero, $0 - ContinuousClock.now) }
            guard let line = try session.tracePipe.readLine(timeout: remaining) else { return nil }
            if let fields = TraceLine(parsing: line) { return fields }
        }
    }

    /// Addresses to symbol names and back, as bcc's `ksym()`, `ksymname()` and `sym()`;
    /// the caches are the wrapper's, freed by ``close()``.
    public var symbols: SymbolResolver { session.symbols }
}
