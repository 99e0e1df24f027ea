internal import CBCC
import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Something the poller drains: a perf buffer (one reader per CPU) or a ring buffer.
protocol EventSource: AnyObject, Sendable {
    /// File descriptors that become readable when records are waiting.
    var pollDescriptors: [Int32] { get }
    /// Whether records may wait without a wake-up (batched perf-buffer wake-ups), so the
    /// poller must also drain on a timer.
    var needsTimedDrain: Bool { get }
    /// Reads every waiting record and hands it to the callbacks. Poller thread only.
    func drain()
    /// Frees the C resources. Called exactly once, when no drain can be running.
    func release()
}

/// The one thread per ``EBPFWrapper`` that delivers records to callbacks.
///
/// It sleeps in `epoll_wait` over every source's descriptors plus an eventfd that commands
/// (add, remove, stop) write to, so `stop()` interrupts it at once. Sources whose wake-ups
/// are batched are also drained every `drainInterval`, which bounds a lone record's latency.
/// Sources are released only on this thread (or after it ended), never while a drain of
/// theirs runs: tearing a reader down under another thread's read crashed bcc (#1533).
///
/// The epoll fd and the eventfd are closed when the poller stops. Outside the thread's own
/// `epoll_wait`, they are used only under the lock and only while `descriptorsOpen`.
final class EventPoller: @unchecked Sendable {
    // @unchecked Sendable: `epollFD` and `wakeFD` are immutable numbers whose use is guarded
    // as described above; everything else shared is in `shared` (a Lock) or `pollerThread`
    // (an Atomic).

    private struct Removal {
        var source: any EventSource
        var done: DispatchSemaphore?
    }

    private struct Shared {
        var sources: [UInt64: any EventSource] = [:]
        var nextID: UInt64 = 1
        var removals: [Removal] = []
        var stopping = false
        var thread: pthread_t?
        var joinClaimed = false
        var stopWaiters: [DispatchSemaphore] = []
        var finished = false
        var descriptorsOpen = true
    }

    let drainInterval: Duration
    private let epollFD: Int32
    private let wakeFD: Int32
    private let shared = Lock(Shared())
    private let pollerThread = Atomic<UInt>(0)
    private static let wakeID = UInt64.max

    init(drainInterval: Duration) throws(EBPFError) {
        self.drainInterval = drainInterval
        let epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epoll >= 0 else {
            let error = errno
            throw EBPFError.fromErrno(
                .systemCallFailed, "could not create the event poller", call: "epoll_create1",
                errno: error)
        }
        let wake = eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK))
        guard wake >= 0 else {
            let error = errno
            close(epoll)
            throw EBPFError.fromErrno(
                .systemCallFailed, "could not create the poller's wake-up eventfd",
                call: "eventfd", errno: error)
        }
        epollFD = epoll
        wakeFD = wake
        var event = epoll_event()
        event.events = EPOLLIN.rawValue
        event.data.u64 = Self.wakeID
        epoll_ctl(epollFD, EPOLL_CTL_ADD, wakeFD, &event)
    }

    deinit {
        shared.withLock { closeDescriptors(&$0) }
    }

    /// Whether the caller is running on the poller thread (inside a callback).
    var isCurrentThread: Bool { pollerThread.load(ordering: .acquiring) == UInt(pthread_self()) }

    /// Starts delivering `source`'s records, starting the thread on first use. On failure
    /// the poller holds no reference to `source`, and the caller still owns (releases) it.
    func add(_ source: any EventSource) throws(EBPFError) {
        let failure: EBPFError? = shared.withLock { state in
            guard !state.stopping, state.descriptorsOpen else {
                return EBPFError(.closed, "the wrapper is closed; create a new one")
            }
            let id = state.nextID
            state.nextID += 1
            var watched: [Int32] = []
            for fd in source.pollDescriptors {
                var event = epoll_event()
                event.events = EPOLLIN.rawValue
                event.data.u64 = id
                guard epoll_ctl(epollFD, EPOLL_CTL_ADD, fd, &event) == 0 else {
                    let error = errno
                    watched.forEach { epoll_ctl(epollFD, EPOLL_CTL_DEL, $0, nil) }
                    return EBPFError.fromErrno(
                        .systemCallFailed, "could not watch a buffer's file descriptor",
                        call: "epoll_ctl", errno: error)
                }
                watched.append(fd)
            }
            if state.thread == nil {
                do throws(EBPFError) {
                    state.thread = try startThread()
                } catch {
                    watched.forEach { epoll_ctl(epollFD, EPOLL_CTL_DEL, $0, nil) }
                    return error
                }
            }
            state.sources[id] = source
            wake(state)
            return nil
        }
        if let failure { throw failure }
    }

    /// Stops delivering `source`'s records and releases it. Returns once it is released,
    /// unless called from a callback on the poller thread (then it is released as soon as
    /// that callback returns).
    func remove(_ source: any EventSource) {
        enum Outcome { case alreadyGone, releaseHere, queued }
        let onPoller = isCurrentThread
        let done: DispatchSemaphore? = onPoller ? nil : DispatchSemaphore(value: 0)
        let outcome = shared.withLock { state -> Outcome in
            guard let id = state.sources.first(where: { $0.value === source })?.key else {
                return .alreadyGone
            }
            state.sources[id] = nil
            if state.descriptorsOpen {
                for fd in source.pollDescriptors { epoll_ctl(epollFD, EPOLL_CTL_DEL, fd, nil) }
            }
            // Without a running thread nothing can be draining it. A callback during the
            // final drain leaves it to finish(), which already holds it.
            if state.thread == nil || state.finished { return onPoller ? .alreadyGone : .releaseHere }
            state.removals.append(Removal(source: source, done: done))
            wake(state)
            return .queued
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
        enum Action { case nothing, join(pthread_t), wait(DispatchSemaphore) }
        let onPoller = isCurrentThread
        let action = shared.withLock { state -> Action in
            state.stopping = true
            wake(state)
            guard let thread = state.thread, !state.finished, !onPoller else { return .nothing }
            if !state.joinClaimed {
                state.joinClaimed = true
                return .join(thread)
            }
            let done = DispatchSemaphore(value: 0)
            state.stopWaiters.append(done)
            return .wait(done)
        }
        switch action {
        case .nothing: break
        case .join(let thread): pthread_join(thread, nil)
        case .wait(let done): done.wait()
        }
        guard !onPoller else { return }
        // The thread has finished (or never ran): nothing else can touch sources or descriptors.
        let remaining = shared.withLock { state -> [any EventSource] in
            guard state.thread == nil || state.finished else { return [] }
            defer { state.sources.removeAll() }
            closeDescriptors(&state)
            return Array(state.sources.values)
        }
        remaining.forEach { $0.release() }
    }

    private func closeDescriptors(_ state: inout Shared) {
        guard state.descriptorsOpen else { return }
        state.descriptorsOpen = false
        close(wakeFD)
        close(epollFD)
    }

    /// Interrupts `epoll_wait`. Called with the lock held (the `state` argument proves it).
    private func wake(_ state: borrowing Shared) {
        guard state.descriptorsOpen else { return }
        var one: UInt64 = 1
        _ = write(wakeFD, &one, MemoryLayout<UInt64>.size)
    }

    private func startThread() throws(EBPFError) -> pthread_t {
        var thread = pthread_t()
        let context = Unmanaged.passRetained(self).toOpaque()
        let rc = pthread_create(
            &thread, nil,
            { context in
                let poller = Unmanaged<EventPoller>.fromOpaque(context!).takeRetainedValue()
                poller.run()
                return nil
            }, context)
        guard rc == 0 else {
            Unmanaged<EventPoller>.fromOpaque(context).release()
            throw EBPFError.fromErrno(
                .systemCallFailed, "could not start the event polling thread",
                call: "pthread_create", errno: rc)
        }
        return thread
    }

    private func run() {
        pollerThread.store(UInt(pthread_self()), ordering: .releasing)
        var events = [epoll_event](repeating: epoll_event(), count: 64)
        let intervalMS = Int32(max(1, drainInterval / .milliseconds(1)))
        var lastTimedDrain = ContinuousClock.now
        while true {
            let (stopping, removals, timed) = shared.withLock { state in
                let removals = state.removals
                state.removals.removeAll()
                return (state.stopping, removals, state.sources.values.contains { $0.needsTimedDrain })
            }
            for removal in removals {
                removal.source.release()
                removal.done?.signal()
            }
            if stopping { break }

            let count = events.withUnsafeMutableBufferPointer {
                epoll_wait(epollFD, $0.baseAddress, Int32($0.count), timed ? intervalMS : -1)
            }
            if count < 0 && errno != EINTR { break }
            for event in events.prefix(max(0, Int(count))) {
                let id = event.data.u64
                if id == Self.wakeID {
                    var value: UInt64 = 0
                    _ = read(wakeFD, &value, MemoryLayout<UInt64>.size)
                } else if let source = shared.withLock({ $0.sources[id] }) {
                    source.drain()
                }
            }
            if timed, ContinuousClock.now - lastTimedDrain >= drainInterval {
                lastTimedDrain = ContinuousClock.now
                let sources = shared.withLock { Array($0.sources.values) }
                for source in sources where source.needsTimedDrain {
                    source.drain()
                }
            }
        }
        finish()
    }

    /// On the way out of the thread: deliver what is left, release every source, wake the
    /// callers waiting in `stop()`/`remove()`. If nobody joins the thread (`stop()` was
    /// called from a callback), it also closes the descriptors and detaches itself.
    private func finish() {
        let (sources, removals, waiters) = shared.withLock { state in
            state.finished = true
            defer {
                state.sources.removeAll()
                state.removals.removeAll()
                state.stopWaiters.removeAll()
            }
            return (Array(state.sources.values), state.removals, state.stopWaiters)
        }
        for source in sources {
            source.drain()
            source.release()
        }
        for removal in removals {
            removal.source.release()
            removal.done?.signal()
        }
        pollerThread.store(0, ordering: .releasing)
        let joined = shared.withLock { state -> Bool in
            if !state.joinClaimed { closeDescriptors(&state) }
            return state.joinClaimed
        }
        waiters.forEach { $0.signal() }
        if !joined {
            pthread_detach(pthread_self())
        }
    }
}
