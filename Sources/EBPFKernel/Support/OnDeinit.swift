/// Runs an action when the last reference goes: what ends a probe or buffer when the
/// iterator of its async sequence is dropped (the loop was left, the task cancelled).
package final class OnDeinit: Sendable {
    private let action: @Sendable () -> Void

    package init(_ action: @escaping @Sendable () -> Void) {
        self.action = action
    }

    deinit {
        action()
    }
}
