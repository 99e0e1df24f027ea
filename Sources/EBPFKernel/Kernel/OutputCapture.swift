import Dispatch

#if canImport(Glibc)
import Glibc
#endif

/// Runs a libbcc call with file descriptors 1 and 2 redirected into pipes read into memory,
/// and returns what it wrote to each.
///
/// libbcc reports clang's diagnostics and the verifier's hints on stderr, and some failures
/// (missing kernel headers) on stdout. Capturing both lets a compile or load failure carry
/// them in the thrown error.
///
/// The redirection is process-wide (a file descriptor has no per-thread view), so callers
/// hold ``LibBCC/lock``, and whatever another thread writes to fd 1 or 2 during the window
/// (one compile or load, about 0.2 s) is captured too. Callers write everything captured
/// back out with ``Output/forward()`` whether the call failed or not: another thread's output
/// is delayed, never lost, but may also appear in a failed call's diagnostics.
/// (`OutputCaptureTests` checks that no line of a thread writing throughout is lost.)
package enum OutputCapture {
    package struct Output {
        package var standardOutput = ""
        package var standardError = ""

        package init(standardOutput: String = "", standardError: String = "") {
            self.standardOutput = standardOutput
            self.standardError = standardError
        }

        /// Both, stderr first: what to show as diagnostics.
        package var combined: String {
            [standardError, standardOutput].filter { !$0.isEmpty }.joined(separator: "\n")
        }

        /// Writes what was captured to the real stdout and stderr, as libbcc would have.
        package func forward() {
            write(standardOutput, to: STDOUT_FILENO)
            write(standardError, to: STDERR_FILENO)
        }
    }

    /// Runs `body` with stdout and stderr captured and returns what it wrote.
    package static func capture(_ body: () -> Void) -> Output {
        fflush(nil)
        guard let out = Sink(STDOUT_FILENO) else {
            // Without sinks the call still runs; its output just goes where it would have.
            body()
            return Output()
        }
        guard let err = Sink(STDERR_FILENO) else {
            _ = out.finish()
            body()
            return Output()
        }
        // Both, whether or not the first succeeds: each closes its own write end.
        let outRedirected = out.redirect()
        let errRedirected = err.redirect()
        guard outRedirected, errRedirected else {
            out.restore()
            err.restore()
            body()
            return Output(standardOutput: out.finish(), standardError: err.finish())
        }
        body()
        fflush(nil)
        out.restore()
        err.restore()
        return Output(standardOutput: out.finish(), standardError: err.finish())
    }

    /// One of fd 1 and 2 during the window: a pipe whose write end stands in for it, and a
    /// thread that reads the pipe to its end, so a full pipe never blocks the writer.
    ///
    /// A pipe, not a file, because its end is observable: another thread's `write` that
    /// resolved fd 1 before the window closed may land after it, and only once every such
    /// write is done does the reader see end-of-file. (With a temporary file, such a line
    /// landed after the file was read and was lost.) If the end does not come within
    /// `grace` (a child process that inherited the pipe as its stdout), the thread goes on
    /// writing whatever still comes to the real descriptor itself, so nothing is lost.
    private final class Sink: @unchecked Sendable {
        // @unchecked Sendable: the descriptors are immutable numbers; `state` is a Lock.
        private struct State {
            package var bytes: [UInt8] = []
            package var writeEndOpen = true
            package var relaying = false
            package var ended = false
        }

        private let target: Int32
        /// The real descriptor, kept to restore it and to relay late output to.
        private let saved: Int32
        private let readEnd: Int32
        private let writeEnd: Int32
        private let state = Lock(State())
        private let ended = DispatchSemaphore(value: 0)
        private static let grace = DispatchTimeInterval.seconds(2)

        package init?(_ target: Int32) {
            var ends: [Int32] = [-1, -1]
            let saved = fcntl(target, F_DUPFD_CLOEXEC, 0)
            guard saved >= 0 else { return nil }
            guard pipe(&ends) == 0 else {
                Glibc.close(saved)
                return nil
            }
            for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
            self.target = target
            self.saved = saved
            self.readEnd = ends[0]
            self.writeEnd = ends[1]
            do {
                // Detached: nobody joins it (finish() waits on `ended`), and an unjoined thread
                // keeps its stack.
                try NativeThread.start { [self] in drain() }.detach()
            } catch {
                [saved, ends[0], ends[1]].forEach { _ = Glibc.close($0) }
                return nil
            }
        }

        /// Puts the pipe in the target's place; the pipe's only write end is then the target.
        package func redirect() -> Bool {
            defer { closeWriteEnd() }
            return dup2(writeEnd, target) >= 0
        }

        private func closeWriteEnd() {
            let open = state.withLock { state in
                defer { state.writeEndOpen = false }
                return state.writeEndOpen
            }
            if open { Glibc.close(writeEnd) }
        }

        package func restore() {
            dup2(saved, target)
        }

        /// What came through the pipe: all of it, unless its end did not come within the grace
        /// period (then the thread relays the rest).
        package func finish() -> String {
            closeWriteEnd()  // Not redirected: nothing else will end the pipe.
            let timedOut = ended.wait(timeout: .now() + Self.grace) == .timedOut
            let (bytes, closeSaved) = state.withLock { state in
                if timedOut && !state.ended { state.relaying = true }
                defer { state.bytes = [] }
                return (state.bytes, !state.relaying)
            }
            if closeSaved { Glibc.close(saved) }
            return String(decoding: bytes, as: UTF8.self)
        }

        private func drain() {
            var chunk = [UInt8](repeating: 0, count: 16 * 1024)
            while true {
                let count = chunk.withUnsafeMutableBytes { Glibc.read(readEnd, $0.baseAddress, $0.count) }
                if count < 0, errno == EINTR { continue }
                guard count > 0 else { break }
                state.withLock { state in
                    if state.relaying {
                        OutputCapture.write(chunk[0..<count], to: saved)
                    } else {
                        state.bytes.append(contentsOf: chunk[0..<count])
                    }
                }
            }
            Glibc.close(readEnd)
            let closeSaved = state.withLock { state in
                state.ended = true
                return state.relaying
            }
            if closeSaved { Glibc.close(saved) }
            ended.signal()
        }
    }

    private static func write(_ text: String, to fd: Int32) {
        write(Array(text.utf8)[...], to: fd)
    }

    /// Writes `text` a line at a time, each line (up to `PIPE_BUF` bytes) in one `write(2)`:
    /// on a pipe such a write is atomic, so another thread's lines never land inside one of
    /// these, nor these inside theirs (a single large write may be interleaved).
    private static func write(_ text: ArraySlice<UInt8>, to fd: Int32) {
        var rest = text
        while !rest.isEmpty {
            let lineEnd = rest.firstIndex(of: UInt8(ascii: "\n")).map { rest.index(after: $0) } ?? rest.endIndex
            let end = min(lineEnd, rest.startIndex + Int(PIPE_BUF))
            var piece = rest[rest.startIndex..<end]
            while !piece.isEmpty {
                let written = piece.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
                if written < 0, errno == EINTR { continue }
                guard written > 0 else { return }
                piece = piece.dropFirst(written)
            }
            rest = rest[end...]
        }
    }
}
