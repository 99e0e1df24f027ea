import Foundation
import XCTest

/// A program a test starts, its stdout and stderr collected together as it runs.
final class Subprocess: @unchecked Sendable {
    // @unchecked Sendable: `process` is Foundation's, used from the test's thread and its
    // own; the output is behind a lock.
    private let process = Process()
    private let output = NSLock()
    // Bytes, decoded when read: a read can end inside a multi-byte character.
    private var bytes = Data()

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
        pipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard let self, !data.isEmpty else { return }
            self.output.withLock { self.bytes += data }
        }
        try process.run()
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
            if !process.isRunning { return collectedOutput.contains(marker) }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return false
    }

    /// Sends `signal` and waits for the exit; returns the exit status (or the signal, negated).
    @discardableResult
    func stop(_ signal: Int32 = SIGTERM) -> Int32 {
        if process.isRunning { kill(process.processIdentifier, signal) }
        process.waitUntilExit()
        return process.terminationReason == .exit ? process.terminationStatus : -process.terminationStatus
    }

    /// Waits for the program to exit by itself.
    func wait() -> Int32 {
        process.waitUntilExit()
        return process.terminationStatus
    }
}
