/// Where the kernel (or libbcc) writes a verifier log: 1 MiB, allocated but not written, so
/// a load that succeeds costs no zeroing or page faults (a zeroed array per load cost a
/// 40-probe start 40 MiB of memset). A module reuses one for its loads.
package final class VerifierLogBuffer: @unchecked Sendable {
    // @unchecked Sendable: written and read only under the lock of the module that owns it.
    package let start: UnsafeMutablePointer<CChar>
    package let capacity: Int

    package init(capacity: Int = 1 << 20) {
        self.capacity = capacity
        start = .allocate(capacity: capacity)
        start[0] = 0
    }

    deinit {
        start.deallocate()
    }

    /// Empties the log before a load.
    package func clear() {
        start[0] = 0
    }

    /// The log written so far: the text up to its NUL (the kernel terminates what it writes).
    package var text: String { String(cString: start) }
}
