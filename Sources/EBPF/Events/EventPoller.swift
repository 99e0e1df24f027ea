import Dispatch
import Synchronization
import EBPFKernel

/// Something the poller drains: a perf buffer (one ring per CPU) or a ring buffer.
protocol EventSource: AnyObject, Sendable {
    /// Registers what becomes readable when records are waiting (its rings) in `pollSet`,
    /// with `id`; on a failure, the caller unwatches what was registered.
    func watch(in pollSet: PollSet, id: UInt64) throws(SystemCallFailure)
    /// Removes everything ``watch(in:id:)`` registers (what it did not register, too, after
    /// it failed: the poll set ignores those).
    func unwatch(from pollSet: PollSet)
    /// Whether records may wait without a wake-up (batched perf-buffer wake-ups), so the
    /// poller must also drain on a timer.
    var needsTimedDrain: Bool { get }
    /// Reads the waiting records and hands them to the callbacks. Poller thread only.
    func drain()
    /// Frees the source's rings. Called exactly once, when no drain can be running.
    func release()
}

/// The one thread per ``EBPFWrapper`` that delivers records to callbacks.
///
/// It sleeps in `epoll_wait` over every source's descriptors plus an eventfd that commands
/// (add, remove, stop) write to, so `stop()` interrupts it at once. When a source's wake-ups
/// are batched (or someone follows ``deliveredThrough``), every source is also drained every
/// `drainInterval`, which bounds a lone record's latency; each such pass moves
/// ``deliveredThrough`` to when it began.
/// Sources are released only on this thread (or when it is gone), never while a drain of
/// theirs runs: tearing a reader down under another thread's read crashed bcc (#1533).
final class EventPoller: Sendable {
    /// Where the poller is in its life; it only moves down this list.
    private enum Phase {
        /// No thread yet: it starts with the first source.
        case idle
        case running(NativeThread)
        /// The thread delivers what the buffers hold, releases every source and ends. One
        /// `stop()` caller joins it (`joinClaimed`); others wait to be signalled.
        case stopping(NativeThread, joinClaimed: Bool, waiters: [DispatchSemaphore])
        /// Every source released, descriptors closed.
        case closed
    }

    /// A source to release on the thread, or (`release` false) only a point the caller waits
    /// for: the end of the drain pass running when it was queued.
    private struct Removal {
        var source: any EventSource
        var release = true
        var done: DispatchSemaphore?
    }

    private struct State {
        var phase = Phase.idle
        var sources: [UInt64: any EventSource] = [:]
        var nextID: UInt64 = 1
        var removals: [Removal] = []
        /// nil once closed; the thread holds its own reference while it runs.
        var pollSet: PollSet?
        /// Called after each pass that drained every source.
        var afterFullPass: (@Sendable (UInt64) -> Void)?

        var isStopping: Bool {
            if case .stopping = phase { return true }
            return false
        }
    }

    let drainInterval: Duration
    private let state: Lock<State>
    private let pollerThreadID = Atomic<UInt>(0)
    /// Ends running off the cooperative pool (``endOffPool(_:)``).
    private let pendingEnds = DispatchGroup()
    private let fullPassWatermark = Atomic<UInt64>(0)

    /// How long before a pass began its watermark is put: a program stamps its record
    /// (`bpf_ktime_get_ns`) a few microseconds before the record is in the ring, so one
    /// stamped just before the pass may be written just after the pass read that ring.
    static let stampToCommitMargin: UInt64 = 1_000_000

    /// Kernel time (`CLOCK_MONOTONIC` ns) before which every record of every source has been
    /// handed to its callback, allowing ``stampToCommitMargin`` for records in flight; nil
    /// before the first pass over every source.
    var deliveredThrough: UInt64? {
        let watermark = fullPassWatermark.load(ordering: .acquiring)
        return watermark == 0 ? nil : watermark
    }

    /// Calls `body` on the thread after each pass that drained every source, with the new
    /// ``deliveredThrough``; such passes then run every `drainInterval` even if no source
    /// batches its wake-ups. Replaces the previous observer; nil removes it.
    func afterFullPass(_ body: (@Sendable (UInt64) -> Void)?) {
        state.withLock { state in
            guard let pollSet = state.pollSet, !state.isStopping else { return }  // Closed: never called.
            state.afterFullPass = body
            pollSet.wake()
        }
    }

    init(drainInterval: Duration) throws(EBPFError) {
        self.drainInterval = drainInterval
        do {
            state = Lock(State(pollSet: try PollSet()))
        } catch {
            throw error.error(.systemCallFailed, "could not create the event poller")
        }
    }

    /// Whether `stop()` was called and the thread has not finished yet.
    var isStopping: Bool { state.withLock { $0.isStopping } }

    /// Whether the caller is running on the poller thread (inside a callback).
    var isCurrentThread: Bool { pollerThreadID.load(ordering: .acquiring) == NativeThread.current.id }

    /// Starts delivering `source`'s records, starting the thread on first use. On failure
    /// the poller holds no reference to `source`, and the caller still owns (releases) it.
    func add(_ source: any EventSource) throws(EBPFError) {
        try state.withLock { (state) throws(EBPFError) in
            guard let pollSet = state.pollSet, !state.isStopping else {
                throw EBPFError(.closed, "the wrapper is closed; create a new one")
            }
            let id = state.nextID
            state.nextID += 1
            do throws(SystemCallFailure) {
                try source.watch(in: pollSet, id: id)
                if case .idle = state.phase {
                    state.phase = .running(try NativeThread.start { [self] in run(pollSet) })
                }
            } catch {
                source.unwatch(from: pollSet)
                throw error.error(.systemCallFailed, "could not watch a buffer")
            }
            state.sources[id] = source
            pollSet.wake()
        }
    }

    /// Runs `end` (a probe's detach, a buffer's close) on a thread of its own, not the
    /// caller's: a `for await` loop that is left, or its task cancelled, ends its stream on
    /// the cooperative pool, whose threads must not wait for this one (nor take a GCD
    /// worker, which on Linux may be one of the pool's). ``stop()`` waits for every such end.
    func endOffPool(_ end: @escaping @Sendable () -> Void) {
        pendingEnds.enter()
        let run: @Sendable () -> Void = { [pendingEnds] in
            end()
            pendingEnds.leave()
        }
        do {
            try NativeThread.start(run).detach()
        } catch {
            run()  // No thread to be had: waiting here beats leaving the probe attached.
        }
    }

    /// Returns once a drain of `source` that is running now has ended: at once on the poller
    /// thread (the drain is the caller's) or when `source` is not registered (no drain of it
    /// can run). What the caller wrote before is seen by every later drain: the thread takes
    /// the state lock between passes.
    func waitForRunningDrain(of source: any EventSource) {
        guard !isCurrentThread else { return }
        let done = DispatchSemaphore(value: 0)
        let queued = state.withLock { state -> Bool in
            guard state.sources.values.contains(where: { $0 === source }) else { return false }
            switch state.phase {
            case .idle, .closed:
                return false
            case .running, .stopping:
                state.removals.append(Removal(source: source, release: false, done: done))
                state.pollSet?.wake()
                return true
            }
        }
        if queued { done.wait() }
    }

    /// Stops delivering `source`'s records and releases it. Returns once it is released,
    /// unless called from a callback on the poller thread (then it is released as soon as
    /// that callback returns).
    func remove(_ source: any EventSource) {
        enum Outcome { case alreadyGone, releaseHere, queued }
        let onPoller = isCurrentThread
        let done: DispatchSemaphore? = onPoller ? nil : DispatchSemaphore(value: 0)
        let outcome = state.withLock { state -> Outcome in
            guard let id = state.sources.first(where: { $0.value === source })?.key else {
                return .alreadyGone
            }
            state.sources[id] = nil
            if let pollSet = state.pollSet { source.unwatch(from: pollSet) }
            switch state.phase {
            case .idle, .closed:
                return .releaseHere
            case .running, .stopping:
                state.removals.append(Removal(source: source, done: done))
                state.pollSet?.wake()
                return .queued
            }
        }
        switch outcome {
        case .alreadyGone: return
        case .releaseHere: source.release()
        case .queued: done?.wait()
        }
    }

    /// Stops the thread, delivering what the buffers still hold, releases every source and
    /// closes the poller's descriptors. Waits for the thread unless called from one of its
    /// callbacks (the thread then finishes the job itself); idempotent.
    func stop() {
        // An end started off the pool may be waiting for this thread to release its source:
        // the thread keeps running until it has (called on the thread itself, from a
        // callback, nothing waits; the thread finishes the job).
        if !isCurrentThread { pendingEnds.wait() }
        enum Action {
            case nothing
            case join(NativeThread)
            case wait(DispatchSemaphore)
        }
        let onPoller = isCurrentThread
        let action = state.withLock { state -> Action in
            switch state.phase {
            case .idle:
                state.phase = .closed
                state.pollSet = nil
                state.afterFullPass = nil
                return .nothing
            case .closed:
                return .nothing
            case .running(let thread):
                state.phase = .stopping(thread, joinClaimed: !onPoller, waiters: [])
                state.pollSet?.wake()
                return onPoller ? .nothing : .join(thread)
            case .stopping(let thread, let joinClaimed, var waiters):
                if onPoller { return .nothing }
                if !joinClaimed {
                    state.phase = .stopping(thread, joinClaimed: true, waiters: waiters)
                    return .join(thread)
                }
                let done = DispatchSemaphore(value: 0)
                waiters.append(done)
                state.phase = .stopping(thread, joinClaimed: true, waiters: waiters)
                return .wait(done)
            }
        }
        switch action {
        case .nothing:
            break
        case .wait(let done):
            done.wait()
        case .join(let thread):
            thread.join()
            // The thread released every source; what is left is to close the descriptors.
            state.withLock { state in
                state.phase = .closed
                state.pollSet = nil
            }
        }
    }

    private func run(_ pollSet: PollSet) {
        pollerThreadID.store(NativeThread.current.id, ordering: .releasing)
        var lastTimedDrain = ContinuousClock.now
        while true {
            let (stopping, removals, timed) = state.withLock { state in
                defer { state.removals.removeAll() }
                let timed = state.afterFullPass != nil || state.sources.values.contains { $0.needsTimedDrain }
                return (state.isStopping, state.removals, timed)
            }
            for removal in removals {
                if removal.release { removal.source.release() }
                removal.done?.signal()
            }
            if stopping { break }

            do throws(SystemCallFailure) {
                let timeout = Self.waitTimeout(
                    sinceTimedDrain: ContinuousClock.now - lastTimedDrain, interval: drainInterval, timed: timed)
                try pollSet.wait(timeoutMilliseconds: timeout) { id in
                    state.withLock { $0.sources[id] }?.drain()
                }
            } catch {
                break
            }
            if timed, ContinuousClock.now - lastTimedDrain >= drainInterval {
                lastTimedDrain = ContinuousClock.now
                drainEverySource()
            }
        }
        finish()
    }

    /// Drains every source (draining one with nothing waiting costs a read of its ring's
    /// head), then moves ``deliveredThrough`` to when the pass began, less the margin.
    private func drainEverySource() {
        let began = KernelClock.now()
        let (sources, observer) = state.withLock { (Array($0.sources.values), $0.afterFullPass) }
        for source in sources { source.drain() }
        let watermark = began > Self.stampToCommitMargin ? began - Self.stampToCommitMargin : 1
        fullPassWatermark.store(watermark, ordering: .releasing)
        observer?(watermark)
    }

    /// How long the thread's next `epoll_wait` may sleep, in milliseconds: until the next
    /// timed drain is due (rounded up), not a whole interval from now, or a wake-up just
    /// before it was due would put it off by nearly an interval; -1 (no limit) when no
    /// source needs timed drains.
    static func waitTimeout(sinceTimedDrain elapsed: Duration, interval: Duration, timed: Bool) -> Int32 {
        guard timed else { return -1 }
        let untilDue = ((interval - elapsed) / .milliseconds(1)).rounded(.up)
        return Int32(min(max(0, untilDue), Double(Int32.max)))
    }

    /// On the way out of the thread: deliver what is left, release every source, wake the
    /// callers waiting in `stop()`/`remove()`. If nobody joins the thread (`stop()` was
    /// called from a callback), it also closes the descriptors and detaches itself.
    private func finish() {
        // Source by source, each staying registered while it delivers: a `remove()` of it
        // meanwhile queues a removal and waits for the pass below, so no callback runs after
        // `EventBuffer.close()` returns.
        while let (id, source) = state.withLock({ $0.sources.first.map { ($0.key, $0.value) } }) {
            source.drain()
            let stillHere = state.withLock { $0.sources.removeValue(forKey: id) != nil }
            if stillHere { source.release() }  // Else its remover's removal releases it.
        }
        let removals = state.withLock { state in
            defer { state.removals.removeAll() }
            // The observer may hold the wrapper (a cycle through this poller): let it go.
            state.afterFullPass = nil
            return state.removals
        }
        for removal in removals {
            if removal.release { removal.source.release() }
            removal.done?.signal()
        }
        pollerThreadID.store(0, ordering: .releasing)
        let (thread, joined, waiters) = state.withLock { state -> (NativeThread?, Bool, [DispatchSemaphore]) in
            switch state.phase {
            case .stopping(let thread, true, let waiters):
                state.phase = .stopping(thread, joinClaimed: true, waiters: [])
                return (thread, true, waiters)
            case .running(let thread), .stopping(let thread, false, _):
                state.phase = .closed
                state.pollSet = nil
                return (thread, false, [])
            case .idle, .closed, .stopping:
                return (nil, false, [])
            }
        }
        waiters.forEach { $0.signal() }
        if !joined { thread?.detach() }
    }
}
