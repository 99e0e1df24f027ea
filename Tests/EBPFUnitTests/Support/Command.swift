import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// A program the unit tests run to completion as an oracle (`readelf`, `swift-demangle`).
///
/// Started with `posix_spawn`, its stdout written to an unlinked temporary file: not
/// Foundation's `Process`, which leaks under LeakSanitizer, and no pipe, so no reader thread.
enum Command {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Runs `executable` with `arguments`, stdin read from the file `input` (else
    /// `/dev/null`), stderr discarded; returns its stdout. Throws unless it exits with 0.
    static func run(_ executable: String, _ arguments: [String], input: String? = nil) throws -> String {
        let (exitedCleanly, output) = try outcome(executable, arguments, input: input, mergingStandardError: false)
        guard exitedCleanly else {
            throw Failure(description: "\(executable) \(arguments.joined(separator: " ")) did not exit with 0")
        }
        return output
    }

    /// Runs `executable` with `arguments` to its end: whether it exited with 0, and its
    /// stdout (with stderr when `mergingStandardError`, else stderr discarded).
    static func outcome(
        _ executable: String, _ arguments: [String], input: String? = nil, mergingStandardError: Bool = true
    ) throws -> (exitedCleanly: Bool, output: String) {
        var template = Array("/tmp/ebpf-unit-output-XXXXXX".utf8CString)
        let output = mkstemp(&template)
        guard output >= 0 else { throw Failure(description: "mkstemp failed: errno \(errno)") }
        unlink(template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })
        defer { close(output) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, input ?? "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, output, STDOUT_FILENO)
        if mergingStandardError {
            posix_spawn_file_actions_adddup2(&actions, output, STDERR_FILENO)
        } else {
            posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0)
        }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var child: pid_t = 0
        let spawned = posix_spawn(&child, executable, &actions, nil, argv, environ)
        guard spawned == 0 else { throw Failure(description: "posix_spawn \(executable) failed: errno \(spawned)") }
        var status: Int32 = 0
        while waitpid(child, &status, 0) < 0 && errno == EINTR {}

        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let offset = off_t(bytes.count)
            let count = chunk.withUnsafeMutableBytes { pread(output, $0.baseAddress, $0.count, offset) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            bytes += chunk[0..<count]
        }
        // WIFEXITED and WEXITSTATUS are macros Swift does not import.
        return (status & 0x7F == 0 && (status >> 8) & 0xFF == 0, String(decoding: bytes, as: UTF8.self))
    }

    /// The executable `name` in a directory of `PATH`, symbolic links resolved unless
    /// `resolvingLinks` is false (a program that reads its own name, as `swiftc`, a link to
    /// the Swift driver); nil if none.
    static func find(_ name: String, resolvingLinks: Bool = true) -> String? {
        let path = getenv("PATH").map { String(cString: $0) } ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            guard access(candidate, X_OK) == 0 else { continue }
            guard resolvingLinks else { return candidate }
            guard let resolved = realpath(candidate, nil) else { continue }
            defer { free(resolved) }
            return String(cString: resolved)
        }
        return nil
    }

    /// A new temporary file holding `text`, its name ending in `suffix`; the caller removes it.
    static func temporaryFile(_ text: String, suffix: String = "") throws -> String {
        var template = Array("/tmp/ebpf-unit-input-XXXXXX\(suffix)".utf8CString)
        let descriptor = mkstemps(&template, Int32(suffix.utf8.count))
        guard descriptor >= 0 else { throw Failure(description: "mkstemp failed: errno \(errno)") }
        defer { close(descriptor) }
        let path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        let bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count {
            let count = bytes[written...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else {
                unlink(path)
                throw Failure(description: "writing \(path) failed: errno \(errno)")
            }
            written += count
        }
        return path
    }
}
