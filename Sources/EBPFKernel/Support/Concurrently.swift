/// Runs `side` on a new thread while `main` runs on the calling one, and returns both
/// results once both have finished.
///
/// For start-up work the kernel does not serialise, such as verifying programs while perf
/// rings are allocated. When no thread can be started, `side` runs after `main` on the
/// calling thread.
package func concurrently<Main, Side: Sendable>(
    _ main: () -> Main, alongside side: @escaping @Sendable () -> Side
) -> (Main, Side) {
    let box = SideResult<Side>()
    guard let thread = try? NativeThread.start({ box.value = side() }) else {
        return (main(), side())
    }
    let mainResult = main()
    thread.join()
    // The join orders the side thread's write before this read.
    guard let sideResult = box.value else { preconditionFailure("the side thread ended without a result") }
    return (mainResult, sideResult)
}

/// The side thread's result: written by it before it ends, read after joining it.
private final class SideResult<Value: Sendable>: @unchecked Sendable {
    // @unchecked Sendable: one write on the side thread, then reads after pthread_join.
    package var value: Value?
}

/// Runs `body` on every element at once, the first on the calling thread and the others on
/// threads of their own (at most `maximumThreads`, sharing the elements round-robin), and
/// returns once every call has.
///
/// For kernel calls that each wait out something the others can wait out with them:
/// closing a perf event that has a program attached waits for a grace period. Where no
/// thread can be started, the elements it would have taken run on the calling thread.
package func concurrentlyForEach<Element: Sendable>(
    _ elements: [Element], maximumThreads: Int = 32, _ body: @escaping @Sendable (Element) -> Void
) {
    let lanes = max(1, min(elements.count, maximumThreads))
    var threads: [NativeThread] = []
    var leftOver: [Element] = []
    for lane in 1..<lanes {
        let share = Array(stride(from: lane, to: elements.count, by: lanes).map { elements[$0] })
        if let thread = try? NativeThread.start({ share.forEach(body) }) {
            threads.append(thread)
        } else {
            leftOver += share
        }
    }
    stride(from: 0, to: elements.count, by: lanes).forEach { body(elements[$0]) }
    leftOver.forEach(body)
    threads.forEach { $0.join() }
}
