import Foundation
import XCTest

/// A program the tests start with `posix_spawn`, its stdout and stderr each read to the end
/// by a thread of their own.
///
/// Not Foundation's `Process`: in the 6.1 guest of `scripts/kernel-vm.sh` it printed "Could
/// not create wakeup socket pair for CFSocket" and hung once; `posix_spawn` and plain
/// blocking reads need no run loop.
final class ChildProcess: @unchecked Sendable {
    // @unchecked Sendable: `pid` is immutable; the output texts are behind locks; `status`
    // is written once by `wait()` under `statusLock`.
    enum Termination: Equatable {
        case exited(Int32)
        case signaled(Int32)
    }

    let pid: pid_t
    // Bytes, decoded when read: a read can end inside a multi-byte character.
    private let standardOutputBytes = Locked<[UInt8]>([])
    private let standardErrorBytes = Locked<[UInt8]>([])
    private let readersDone = DispatchSemaphore(value: 0)
    private let pipesAtEnd = Locked<Int>(0)
    private let statusLock = Locked<Termination?>(nil)

    /// Starts `executable`. With `mergeOutput`, stderr goes into the stdout pipe.
    ///
    /// - Parameter environment: Added to (or replacing entries of) this process's environment.
    init(_ executable: String, _ arguments: [String], environment: [String: String] = [:], mergeOutput: Bool = false)
        throws
    {
        var out: [Int32] = [-1, -1]
        var err: [Int32] = [-1, -1]
        guard Self.makePipe(&out), mergeOutput || Self.makePipe(&err) else {
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO)
        posix_spawn_file_actions_adddup2(&actions, mergeOutput ? out[1] : err[1], STDERR_FILENO)

        var variables = ProcessInfo.processInfo.environment
        variables.merge(environment) { $1 }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = variables.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var child: pid_t = 0
        let rc = posix_spawn(&child, executable, &actions, nil, argv, envp)
        close(out[1])
        if !mergeOutput { close(err[1]) }
        guard rc == 0 else {
            close(out[0])
            if !mergeOutput { close(err[0]) }
            throw POSIXError(POSIXErrorCode(rawValue: rc) ?? .EIO)
        }
        pid = child
        readToEnd(out[0], into: standardOutputBytes)
        if mergeOutput { pipeReachedEnd() } else { readToEnd(err[0], into: standardErrorBytes) }
    }

    /// What the child wrote to stdout so far (and stderr, with `mergeOutput`).
    var standardOutput: String { standardOutputBytes.withLock { String(decoding: $0, as: UTF8.self) } }
    var standardError: String { standardErrorBytes.withLock { String(decoding: $0, as: UTF8.self) } }

    func signal(_ number: Int32) {
        kill(pid, number)
    }

    /// Waits for the child to end and for both pipes to reach end of file. A child still
    /// running after `timeout` is killed (SIGKILL) and the test fails: a hung child must not
    /// hang the suite.
    @discardableResult
    func wait(timeout: Duration = .seconds(300)) -> Termination {
        statusLock.withLock { status in
            if let status { return status }
            var raw: Int32 = 0
            // The wait blocks; a watchdog kills a child that outlives `timeout`. One state,
            // under one lock, decides between the two: a reaped child is never signalled.
            enum Outcome { case running, reaped, killed }
            let outcome = Locked(Outcome.running)
            let watchdog = Task { [pid] in
                try await Task.sleep(for: timeout)
                outcome.withLock { outcome in
                    guard outcome == .running else { return }
                    outcome = .killed
                    kill(pid, SIGKILL)
                }
            }
            defer { watchdog.cancel() }
            while waitpid(pid, &raw, 0) < 0 && errno == EINTR {}
            let killed = outcome.withLock { outcome in
                if outcome == .running { outcome = .reaped }
                return outcome == .killed
            }
            if killed {
                XCTFail(
                    "child \(pid) still ran after \(timeout): killed; its output: \(standardOutput) \(standardError)")
            }
            // A grandchild that inherited the pipes could keep them open: bounded too.
            for _ in 0..<2 where readersDone.wait(timeout: .now() + 60) == .timedOut {
                XCTFail("child \(pid) exited but its output pipes stayed open for 60 s")
            }
            // WIFEXITED/WEXITSTATUS/WTERMSIG are macros Swift does not import.
            let signal = raw & 0x7f
            let result: Termination = signal == 0 ? .exited((raw >> 8) & 0xff) : .signaled(signal)
            status = result
            return result
        }
    }

    /// Waits up to `timeout` for the child's stdout (or stderr) to contain `text`; gives up
    /// early once the child has closed both (it exited, and nothing more can come).
    func waitForOutput(_ text: String, onStandardError: Bool = false, timeout: Duration) -> Bool {
        let found = { (onStandardError ? self.standardError : self.standardOutput).contains(text) }
        // Once both pipes are closed the output is final: the check after the wait decides.
        _ = pollUntil(timeout: timeout) { found() || pipesAtEnd.withLock { $0 == 2 } }
        return found()
    }

    /// A pipe whose ends are closed in every other child this process spawns.
    private static func makePipe(_ fds: inout [Int32]) -> Bool {
        guard pipe(&fds) == 0 else { return false }
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        return true
    }

    private func pipeReachedEnd() {
        pipesAtEnd.withLock { $0 += 1 }
        readersDone.signal()
    }

    private func readToEnd(_ fd: Int32, into bytes: Locked<[UInt8]>) {
        Thread { [self] in
            var buffer = [UInt8](repeating: 0, count: 64 * 1024)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { break }
                bytes.withLock { $0 += buffer[0..<count] }
            }
            close(fd)
            pipeReachedEnd()
        }.start()
    }
}

/// Runs a program to completion and returns how it ended and its stdout and stderr together.
func runToCompletion(_ executable: String, _ arguments: [String]) throws -> (
    termination: ChildProcess.Termination, output: String
) {
    let child = try ChildProcess(executable, arguments, mergeOutput: true)
    let termination = child.wait()
    return (termination, child.standardOutput)
}
