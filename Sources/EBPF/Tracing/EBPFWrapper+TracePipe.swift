import EBPFKernel

extension EBPFWrapper {
    /// Reads one line from the kernel's trace pipe, where `bpf_trace_printk` writes, as bcc's
    /// `trace_readline()`.
    ///
    /// - Parameter timeout: How long to wait; nil waits until a line arrives or the wrapper
    ///   is closed.
    /// - Returns: The line, or nil if the timeout passed or the wrapper was closed meanwhile.
    /// - Throws: ``EBPFError/Code/tracefsUnavailable`` when tracefs is not mounted,
    ///   ``EBPFError/Code/closed`` when called after ``close()``.
    public func traceReadline(timeout: Duration? = nil) throws(EBPFError) -> String? {
        try tracePipe.readLine(timeout: timeout)
    }

    /// Reads the next event line from the trace pipe and splits it into task, pid, cpu,
    /// flags, timestamp and message, as bcc's `trace_fields()`. Lines that are not events
    /// (lost-event notices) are skipped.
    ///
    /// - Parameter timeout: How long to wait in all; nil waits until a line arrives or the
    ///   wrapper is closed.
    /// - Returns: The fields, or nil if the timeout passed or the wrapper was closed first.
    public func traceFields(timeout: Duration? = nil) throws(EBPFError) -> TraceLine? {
        let deadline = timeout.map { ContinuousClock.now + $0 }
        while true {
            let remaining = deadline.map { max(.zero, $0 - ContinuousClock.now) }
            guard let line = try traceReadline(timeout: remaining) else { return nil }
            if let fields = TraceLine(parsing: line) { return fields }
        }
    }
}
