/// An action to run once when something ends (a probe detached, a buffer closed), set
/// later than the thing is made: it finishes the async sequence reading it.
package final class EndAction: Sendable {
    private enum State {
        case waiting((@Sendable () -> Void)?)
        case ended
    }

    private let state = Lock(State.waiting(nil))

    package init() {}

    /// Sets the action; runs it at once if ``run()`` already happened.
    package func set(_ action: @escaping @Sendable () -> Void) {
        let ended = state.withLock { state -> Bool in
            guard case .waiting = state else { return true }
            state = .waiting(action)
            return false
        }
        if ended { action() }
    }

    /// Runs the action, if any, once.
    package func run() {
        let action = state.withLock { state -> (@Sendable () -> Void)? in
            defer { state = .ended }
            if case .waiting(let action) = state { return action }
            return nil
        }
        action?()
    }
}
