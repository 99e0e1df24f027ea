import Synchronization

#if canImport(Glibc)
import Glibc
#endif
import EBPFKernel

/// The kernel's trace pipe (`<tracefs>/trace_pipe`), where `bpf_trace_printk` writes.
///
/// Opened on first read and kept open; reads wait in short `poll` slices so that `close()`
/// from another thread ends a blocked read promptly. The pipe is global: every reader on
/// the machine takes lines from the same stream.
final class TracePipe: Sendable {
    private struct State: ~Copyable {
        var pipe: FileDescriptor?
        var pending: [UInt8] = []
    }

    private let state = Lock(State())
    private let closed = Atomic<Bool>(false)
    private static let slice: Int32 = 20  // milliseconds

    /// The next line, or nil when `timeout` passed (or the pipe was closed) first.
    ///
    /// - Throws: ``EBPFError/Code/closed`` once ``close()`` was called: the pipe is not
    ///   opened again.
    func readLine(timeout: Duration?) throws(EBPFError) -> String? {
        let deadline = timeout.map { ContinuousClock.now + $0 }
        return try state.withLock { (state) throws(EBPFError) -> String? in
            if closed.load(ordering: .acquiring) {
                throw EBPFError(.closed, "this EBPFWrapper is closed; create a new one to read the trace pipe")
            }
            if state.pipe == nil {
                let path = try Tracefs.root() + "/trace_pipe"
                do throws(SystemCallFailure) {
                    state.pipe = try FileDescriptor.open(path, O_RDONLY | O_NONBLOCK)
                } catch {
                    throw error.error(.systemCallFailed, "could not open \(path)")
                }
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
                do throws(SystemCallFailure) {
                    guard try state.pipe!.waitReadable(milliseconds: Self.slice) else { continue }
                    let count = try chunk.withUnsafeMutableBufferPointer { (buffer) throws(SystemCallFailure) in
                        try state.pipe!.read(into: UnsafeMutableRawBufferPointer(buffer))
                    }
                    state.pending.append(contentsOf: chunk[0..<count])
                } catch  where error.errno == EAGAIN {
                    continue
                } catch {
                    throw error.error(.systemCallFailed, "could not read trace_pipe")
                }
            }
        }
    }

    /// Ends any blocked read and closes the pipe.
    func close() {
        closed.store(true, ordering: .releasing)
        state.withLock { $0.pipe = nil }
    }
}
