internal import CBCC

#if canImport(Glibc)
import Glibc
#endif

/// Runs a libbcc call with file descriptor 2 redirected into memory, and returns what it
/// wrote there.
///
/// libbcc reports clang diagnostics and verifier hints only on stderr. Capturing them lets a
/// compile or load failure carry them in the thrown error. The redirection is process-wide,
/// so callers hold ``BPFModule/compileLock``; anything another thread writes to stderr in the
/// window is captured too and is written back out by ``forward(_:)`` on success.
enum StderrCapture {
    static func run<T>(_ body: () -> T) -> (result: T, output: String) {
        fflush(nil)
        // An unlinked temporary file: unlike a pipe it never fills up and blocks the writer.
        guard let file = tmpfile() else { return (body(), "") }
        defer { fclose(file) }
        let saved = dup(STDERR_FILENO)
        guard saved >= 0, dup2(fileno(file), STDERR_FILENO) >= 0 else {
            // Without a sink the call still runs; its output just goes to the real stderr.
            if saved >= 0 { close(saved) }
            return (body(), "")
        }
        let result = body()
        fflush(nil)
        dup2(saved, STDERR_FILENO)
        close(saved)
        return (result, readAll(fileno(file)))
    }

    /// Writes captured output to the real stderr, as libbcc would have.
    static func forward(_ output: String) {
        var bytes = Array(output.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeMutableBytes {
                write(STDERR_FILENO, $0.baseAddress! + offset, $0.count - offset)
            }
            if written <= 0 { return }
            offset += written
        }
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
}
