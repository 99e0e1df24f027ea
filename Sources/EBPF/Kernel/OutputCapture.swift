#if canImport(Glibc)
import Glibc
#endif

/// Runs a libbcc call with file descriptors 1 and 2 redirected into memory, and returns what
/// it wrote to each.
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
enum OutputCapture {
    struct Output {
        var standardOutput = ""
        var standardError = ""

        /// Both, stderr first: what to show as diagnostics.
        var combined: String {
            [standardError, standardOutput].filter { !$0.isEmpty }.joined(separator: "\n")
        }

        /// Writes what was captured to the real stdout and stderr, as libbcc would have.
        func forward() {
            write(standardOutput, to: STDOUT_FILENO)
            write(standardError, to: STDERR_FILENO)
        }
    }

    static func run<T>(_ body: () -> T) -> (result: T, output: Output) {
        var result: T?
        let output = capture { result = body() }
        return (result!, output)
    }

    /// Runs `body` with stdout and stderr captured and returns what it wrote.
    static func capture(_ body: () -> Void) -> Output {
        fflush(nil)
        // Unlinked temporary files: unlike pipes they never fill up and block the writer.
        guard let outFile = tmpfile() else {
            body()
            return Output()
        }
        defer { fclose(outFile) }
        guard let errFile = tmpfile() else {
            body()
            return Output()
        }
        defer { fclose(errFile) }
        let savedOut = dup(STDOUT_FILENO)
        let savedErr = dup(STDERR_FILENO)
        guard savedOut >= 0, savedErr >= 0,
            dup2(fileno(outFile), STDOUT_FILENO) >= 0, dup2(fileno(errFile), STDERR_FILENO) >= 0
        else {
            // Without sinks the call still runs; its output just goes where it would have.
            if savedOut >= 0 {
                dup2(savedOut, STDOUT_FILENO)
                close(savedOut)
            }
            if savedErr >= 0 {
                dup2(savedErr, STDERR_FILENO)
                close(savedErr)
            }
            body()
            return Output()
        }
        body()
        fflush(nil)
        dup2(savedOut, STDOUT_FILENO)
        dup2(savedErr, STDERR_FILENO)
        close(savedOut)
        close(savedErr)
        return Output(standardOutput: readAll(fileno(outFile)), standardError: readAll(fileno(errFile)))
    }

    private static func readAll(_ fd: Int32) -> String {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        var offset: off_t = 0
        while true {
            let count = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, offset) }
            guard count > 0 else { break }
            bytes.append(contentsOf: chunk[0..<count])
            offset += off_t(count)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func write(_ text: String, to fd: Int32) {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if written <= 0 { return }
            offset += written
        }
    }
}
