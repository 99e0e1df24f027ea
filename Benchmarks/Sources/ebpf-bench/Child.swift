#if canImport(Glibc)
import Glibc
#endif

/// A child process with pipes on its stdin and stdout, reaped with wait4 so its CPU time and
/// peak RSS can be read.
final class Child {
    let pid: pid_t
    private var stdinFD: Int32
    private let stdoutFD: Int32
    private var buffered: [UInt8] = []

    /// - Parameters:
    ///   - environment: Added to this process's environment for the child.
    ///   - quiet: The child's stderr goes to /dev/null rather than to this process's.
    init(_ arguments: [String], environment: [String] = [], quiet: Bool = false) throws {
        var input: [Int32] = [0, 0]
        var output: [Int32] = [0, 0]
        guard pipe(&input) == 0, pipe(&output) == 0 else { throw BenchError("pipe failed") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, input[0], 0)
        posix_spawn_file_actions_adddup2(&actions, output[1], 1)
        for fd in input + output { posix_spawn_file_actions_addclose(&actions, fd) }
        if quiet { posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0) }
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var child: pid_t = 0
        var inherited: [String] = []
        var entry = environ
        while let variable = entry.pointee {
            inherited.append(String(cString: variable))
            entry += 1
        }
        let envp = (inherited + environment).map { strdup($0) } + [nil]
        defer { envp.forEach { free($0) } }
        let rc = posix_spawn(&child, arguments[0], &actions, nil, argv, envp)
        close(input[0])
        close(output[1])
        guard rc == 0 else {
            close(input[1])
            close(output[0])
            throw BenchError("could not start \(arguments[0]): \(String(cString: strerror(rc)))")
        }
        pid = child
        stdinFD = input[1]
        stdoutFD = output[0]
    }

    /// The next line of the child's stdout, or nil at EOF.
    func readLine() -> String? {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            if let newline = buffered.firstIndex(of: 10) {
                defer { buffered.removeSubrange(...newline) }
                return String(decoding: buffered[..<newline], as: UTF8.self)
            }
            let count = chunk.withUnsafeMutableBytes { read(stdoutFD, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { return nil }
            buffered += chunk[0..<count]
        }
    }

    /// The first line starting with `prefix`, skipping others; nil at EOF.
    func line(startingWith prefix: String) -> String? {
        while let line = readLine() {
            if line.hasPrefix(prefix) { return line }
        }
        return nil
    }

    func write(_ text: String) {
        var bytes = Array(text.utf8)
        _ = Glibc.write(stdinFD, &bytes, bytes.count)
    }

    func closeStdin() {
        if stdinFD >= 0 {
            close(stdinFD)
            stdinFD = -1
        }
    }

    /// Waits for the child; its exit status, CPU seconds and peak RSS in bytes.
    func wait() -> (status: Int32, cpuSeconds: Double, peakRSS: Int) {
        closeStdin()
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
        close(stdoutFD)
        let cpu =
            Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
            + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
        return (status, cpu, usage.ru_maxrss * 1024)
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// `key=value` pairs of a READY/RESULT line.
func values(_ line: String) -> [String: Double] {
    var result: [String: Double] = [:]
    for pair in line.split(separator: " ") {
        let parts = pair.split(separator: "=", maxSplits: 1)
        if parts.count == 2, let value = Double(parts[1]) { result[String(parts[0])] = value }
    }
    return result
}

func cpuNanoseconds() -> UInt64 {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return UInt64(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1_000_000_000
        + UInt64(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1000
}

/// Writes a line straight to stdout (fd 1): unbuffered, so a READY line reaches the harness
/// at once, and safe from any thread.
func emit(_ line: String) {
    write(line + "\n", to: STDOUT_FILENO)
}

/// Writes a line to stderr (fd 2).
func warn(_ line: String) {
    write(line + "\n", to: STDERR_FILENO)
}

private func write(_ text: String, to fd: Int32) {
    var bytes = Array(text.utf8)
    var offset = 0
    while offset < bytes.count {
        let written = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
        if written <= 0 { return }
        offset += written
    }
}
