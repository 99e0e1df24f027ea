#if canImport(Glibc)
import Glibc
#endif

/// Runs `executable` with `arguments` to completion (stdin from /dev/null) and returns its
/// exit status (nil when a signal ended it) and its stdout and stderr together. Its
/// environment holds only `PATH` and `LC_ALL=C` (messages in English, for the tests to read).
///
/// Started with `posix_spawn`, not Foundation's `Process`, which leaks under LeakSanitizer.
/// A command still running after `timeout` seconds is killed (and its status is nil).
func runCommand(_ executable: String, _ arguments: [String], timeout: Int32 = 120) throws -> (
    status: Int32?, output: String
) {
    var fds: [Int32] = [-1, -1]
    guard pipe(&fds) == 0 else { throw RunCommandError(what: "pipe", errno: errno) }
    // Closed in any other child this process starts meanwhile, so only this one holds the pipe.
    _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
    _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO)
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO)
    let argv = ([executable] + arguments).map { strdup($0) } + [nil]
    let environment: [String] = ["PATH=/usr/local/bin:/usr/bin:/bin", "LC_ALL=C"]
    let envp = environment.map { strdup($0) } + [nil]
    defer { (argv + envp).forEach { free($0) } }
    var child: pid_t = 0
    let rc = posix_spawn(&child, executable, &actions, nil, argv, envp)
    close(fds[1])
    guard rc == 0 else {
        close(fds[0])
        throw RunCommandError(what: "posix_spawn \(executable)", errno: rc)
    }
    // Read to the end (the child's exit closes the pipe), killing a child that outlives the bound.
    var output: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 64 * 1024)
    var remaining = Int(timeout) * 1000
    var killed = false
    while true {
        var poller = pollfd(fd: fds[0], events: Int16(POLLIN), revents: 0)
        let ready = poll(&poller, 1, killed ? 10_000 : 100)
        if ready == 0 {
            if killed { break }
            remaining -= 100
            if remaining <= 0 {
                kill(child, SIGKILL)
                killed = true
            }
            continue
        }
        if ready < 0 && errno == EINTR { continue }
        let count = buffer.withUnsafeMutableBytes { read(fds[0], $0.baseAddress, $0.count) }
        if count < 0 && errno == EINTR { continue }
        guard count > 0 else { break }
        output += buffer[0..<count]
    }
    close(fds[0])
    var raw: Int32 = 0
    while waitpid(child, &raw, 0) < 0 && errno == EINTR {}
    // WIFEXITED/WEXITSTATUS are macros Swift does not import.
    let status: Int32? = (raw & 0x7f) == 0 && !killed ? (raw >> 8) & 0xff : nil
    return (status, String(decoding: output, as: UTF8.self))
}

/// A system call of ``runCommand(_:_:timeout:)`` failed.
struct RunCommandError: Error, CustomStringConvertible {
    var what: String
    var errno: Int32
    var description: String { "\(what) failed: \(String(cString: strerror(errno)))" }
}
