extension EBPFWrapper {
    /// Attaches a generated probe to `point` and lends `handler` each event where the kernel
    /// wrote it: no copy per event, where ``attach(_:filter:options:lost:handler:)-(AttachPoint,_,_,_,_)``
    /// copies each into a ``ProbeEvent``.
    ///
    /// ```swift
    /// try b.attachBorrowing(.syscall("openat")) { event in
    ///     guard event.processName == "nginx" else { return }
    ///     paths.append(event.filename?.stringValue ?? "?")   // a value copied out
    /// }
    /// ```
    ///
    /// The view cannot leave the call (the compiler refuses to store or send it): keep what
    /// you need, or the whole event with ``ProbeEventView/copy()``.
    ///
    /// - Parameters:
    ///   - point: Where: as for ``attach(_:filter:options:lost:handler:)-(AttachPoint,_,_,_,_)``.
    ///   - filter: Conditions checked in the kernel; failing events never reach user space.
    ///   - options: String sizes and the perf buffer's configuration.
    ///   - lost: Called with the number of events the kernel dropped because the buffer was
    ///     full.
    ///   - handler: Called on the wrapper's polling thread with each event, lent for the call.
    @discardableResult
    public func attachBorrowing(
        _ point: AttachPoint, filter: ProbeFilter = ProbeFilter(), options: ProbeOptions = .default,
        lost: (@Sendable (UInt64) -> Void)? = nil,
        handler: @escaping @Sendable (borrowing ProbeEventView) -> Void
    ) throws(EBPFError) -> Probe {
        try session.attachProbes(
            [point], filter: filter, options: options, lost: lost, drops: ConsumerDrops(), delivery: .borrowed(handler)
        )[0]
    }

    /// Attaches a generated probe to each of `points`, built and buffered together as
    /// ``attach(_:filter:options:lost:handler:)-([AttachPoint],_,_,_,_)`` does, and lends
    /// `handler` each event in place (``ProbeEventView/eventName`` tells them apart).
    ///
    /// - Parameters:
    ///   - points: Tracepoints, syscalls, kernel functions and USDT probes, in any mix.
    ///   - filter: Conditions checked in the kernel, for every point.
    ///   - options: String sizes and the perf buffers' configuration, for every point.
    ///   - lost: Called with the number of events the kernel dropped because a buffer was full.
    ///   - handler: Called on the wrapper's polling thread with each event, lent for the call.
    /// - Returns: The probes, in the order of `points`.
    @discardableResult
    public func attachBorrowing(
        _ points: [AttachPoint], filter: ProbeFilter = ProbeFilter(), options: ProbeOptions = .default,
        lost: (@Sendable (UInt64) -> Void)? = nil,
        handler: @escaping @Sendable (borrowing ProbeEventView) -> Void
    ) throws(EBPFError) -> [Probe] {
        try session.attachProbes(
            points, filter: filter, options: options, lost: lost, drops: ConsumerDrops(), delivery: .borrowed(handler))
    }
}
