import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The kernel's trace pipe (`<tracefs>/trace_pipe`), where `bpf_trace_printk` writes.
///
/// Opened on first read and kept open; reads wait in short `poll` slices so that `close()`
/// from another thread ends a blocked read promptly. The pipe is global: every reader on
/// the machine takes lines from the same stream.
final class TracePipe: Sendable {
    private struct State {
        var fd: Int32 = -1
        var pending: [UInt8] = []
    }

    private let state = Lock(State())
    private let closed = Atomic<Bool>(false)
    private static let slice: Int32 = 20  // milliseconds

    /// The next line, or nil when `timeout` passed (or the pipe was closed) first.
    func readLine(timeout: Duration?) throws(EBPFError) -> String? {
        let deadline = timeout.map { ContinuousClock.now + $0 }
        return try state.withLock { (state) throws(EBPFError) -> String? in
            if state.fd < 0 {
                let path = try Tracefs.root() + "/trace_pipe"
                let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
                guard fd >= 0 else {
                    let error = errno
                    throw EBPFError.fromErrno(
                        .systemCallFailed, "could not open \(path)", call: "open", errno: error)
                }
                state.fd = fd
            }
            var chunk = [UInt8](repeating: 0, count: 4096)
            while true {
                if let newline = state.pending.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = String(decoding: state.pending[..<newline], as: UTF8.self)
                    state.pending.removeSubrange(...newline)
                    return line
                }
                if closed.load(ordering: .acquiring) { return nil }
                if let deadline, ContinuousClock.now >= deadline { return nil }
                var descriptor = pollfd(fd: state.fd, events: Int16(POLLIN), revents: 0)
                let ready = poll(&descriptor, 1, Self.slice)
                if ready < 0, errno != EINTR {
                    let error = errno
                    throw EBPFError.fromErrno(.systemCallFailed, "could not wait on trace_pipe", call: "poll", errno: error)
                }
                guard ready > 0 else { continue }
                let count = chunk.withUnsafeMutableBytes { read(state.fd, $0.baseAddress, $0.count) }
                if count > 0 {
                    state.pending.append(contentsOf: chunk[0..<count])
                } else if count < 0, errno != EAGAIN, errno != EINTR {
                    let error = errno
                    throw EBPFError.fromErrno(.systemCallFailed, "could not read trace_pipe", call: "read", errno: error)
                }
            }
        }
    }

    /// Ends any blocked read and closes the pipe.
    func close() {
        closed.store(true, ordering: .releasing)
        state.withLock { state in
            if state.fd >= 0 {
                Glibc.close(state.fd)
                state.fd = -1
            }
        }
    }
}
