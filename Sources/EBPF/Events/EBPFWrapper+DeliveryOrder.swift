extension EBPFWrapper {
    /// How far the polling thread has delivered the wrapper's buffers, for consumers that
    /// merge events of several CPUs or buffers in time order.
    public var delivery: DeliveryProgress { DeliveryProgress(poller: session.poller) }
}

/// How far a wrapper's polling thread has delivered its buffers: ``EBPFWrapper/delivery``.
public struct DeliveryProgress: Sendable {
    let poller: EventPoller

    /// Kernel time before which every record of every buffer has reached its callback: what
    /// a consumer merging events of several CPUs or buffers by ``ProbeEvent/timestamp`` may
    /// release. Each CPU's ring is in time order but the polling thread hands over one ring
    /// after the other; it also drains every buffer every 10 ms while batched wake-ups are on
    /// (the default) or ``onDrainPass(_:)`` is set, and this is when the last such pass
    /// began, less a millisecond for records stamped but not yet in their ring. Nanoseconds
    /// on the clock of ``KernelClock/now()`` (`bpf_ktime_get_ns`); nil before the first pass.
    public var deliveredThrough: UInt64? {
        poller.deliveredThrough
    }

    /// Calls `body` on the polling thread after each pass that drained every buffer, with
    /// the new ``deliveredThrough``: the moment to release events held for time order, with
    /// no further delay. Such passes run every 10 ms while an observer is set, whatever the
    /// buffers' wake-ups. Replaces the previous observer; nil removes it.
    public func onDrainPass(_ body: (@Sendable (_ deliveredThrough: UInt64) -> Void)?) {
        poller.afterFullPass(body)
    }
}
