/// What a buffer's reader calls for each record and each loss report, on the polling thread.
package final class BufferCallbacks: Sendable {
    /// Called with the record's bytes, valid only during the call.
    package let onRecord: @Sendable (UnsafeRawBufferPointer) -> Void
    /// Called with the number of records the kernel dropped since the last report.
    package let onLost: @Sendable (UInt64) -> Void
    /// Called at the end of each drain of the buffer.
    package let afterDrain: @Sendable () -> Void

    package init(
        onRecord: @escaping @Sendable (UnsafeRawBufferPointer) -> Void,
        onLost: @escaping @Sendable (UInt64) -> Void,
        afterDrain: @escaping @Sendable () -> Void = {}
    ) {
        self.onRecord = onRecord
        self.onLost = onLost
        self.afterDrain = afterDrain
    }
}
