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
