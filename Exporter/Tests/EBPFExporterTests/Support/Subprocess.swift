import Foundation
import XCTest

/// A program a test starts, its stdout and stderr collected together as it runs.
///
/// A thread of its own reads the output to its end, and ``stop(_:)`` and ``wait()`` return
/// only once it has: what the program wrote just before it exited is always collected
/// (Foundation's `readabilityHandler` can deliver it after `waitUntilExit()` returns).
final class Subprocess: @unchecked Sendable {
    // @unchecked Sendable: `process` is Foundation's, used from the test's thread and its
    // own; the output is behind a lock.
    private let process = Process()
    private let output = NSLock()
    // Bytes, decoded when read: a read can end inside a multi-byte character.
    private var bytes = Data()
    private let outputEnded = DispatchSemaphore(value: 0)
    // Set once the output has ended, or was given up on: later waits return at once.
    private var outputDone = false

    private let input: Pipe?

    /// Starts `executable`; its standard input is a pipe ``write(_:)`` writes to when
    /// `standardInput` is set, else /dev/null.
    init(_ executable: String, _ arguments: [String], standardInput: Bool = false) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        input = standardInput ? Pipe() : nil
        process.standardInput = input ?? FileHandle(forReadingAtPath: "/dev/null")
        try process.run()
        // Foundation has closed this process's copy of the write end: the read ends when the
        // program (and whatever inherited its output) has exited.
        Thread { [self] in
            let reading = pipe.fileHandleForReading.fileDescriptor
            var buffer = [UInt8](repeating: 0, count: 64 * 1024)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(reading, $0.baseAddress, $0.count) }
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { break }
                output.withLock { bytes.append(contentsOf: buffer[0..<count]) }
            }
            outputEnded.signal()
        }.start()
    }

    var pid: Int32 { process.processIdentifier }

    /// Writes `text` to its standard input.
    func write(_ text: String) {
        input?.fileHandleForWriting.write(Data(text.utf8))
    }
    var isRunning: Bool { process.isRunning }
    var collectedOutput: String { output.withLock { String(decoding: bytes, as: UTF8.self) } }

    /// Waits until the output contains `marker`, or the program exits, or `timeout` passes.
    func waitForOutput(_ marker: String, timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if collectedOutput.contains(marker) { return true }
            if !process.isRunning {
                awaitOutputEnd()
                return collectedOutput.contains(marker)
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return false
    }

    /// Sends `signal` and waits for the exit; returns the exit status (or the signal, negated).
    @discardableResult
    func stop(_ signal: Int32 = SIGTERM) -> Int32 {
        if process.isRunning { kill(process.processIdentifier, signal) }
        process.waitUntilExit()
        awaitOutputEnd()
        return process.terminationReason == .exit ? process.terminationStatus : -process.terminationStatus
    }

    /// Waits for the program to exit by itself.
    func wait() -> Int32 {
        process.waitUntilExit()
        awaitOutputEnd()
        return process.terminationStatus
    }

    /// Waits, after the exit, until the output has been read to its end (once: later calls
    /// return at once); a pipe some other process holds open fails the test after 60 s.
    private func awaitOutputEnd() {
        guard !output.withLock({ outputDone }) else { return }
        if outputEnded.wait(timeout: .now() + 60) == .timedOut {
            XCTFail("\(process.executableURL?.path ?? "?") exited, but its output stayed open for 60 s")
        }
        output.withLock { outputDone = true }
    }
}
