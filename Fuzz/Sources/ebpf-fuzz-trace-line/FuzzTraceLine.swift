import EBPF
import FuzzSupport

/// libFuzzer entry: a trace pipe line. Parsing must return nil or fields that came from the
/// line (the task a prefix, the message a suffix, numbers in range); and a line printed from
/// plain fields must parse back to the same fields.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTraceLine(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let line = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    if let parsed = TraceLine(parsing: line) {
        precondition(parsed.pid >= 0 && parsed.cpu >= 0, "negative pid or cpu from \(line.debugDescription)")
        precondition(parsed.timestamp.isFinite && parsed.timestamp >= 0, "timestamp of \(line.debugDescription)")
        precondition(line.hasSuffix(parsed.message), "message not from the line: \(line.debugDescription)")
        // The parser skips leading whitespace as its `\s*` does: newlines too.
        precondition(line.drop(while: \.isWhitespace).hasPrefix(parsed.task), "task: \(line.debugDescription)")
    }

    // The round trip, from fields the kernel could print: a task without spaces, a flags
    // column, a timestamp of whole microseconds, a message without ": ".
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard bytes.count >= 8 else { return 0 }
    let letters = Array("abcdefghijklmnopqrstuvwxyz_-:[]()0123456789")
    let task = String(bytes[8...].prefix(15).map { letters[Int($0) % letters.count] })
    let pid = Int32(bytes[0]) << 8 | Int32(bytes[1])
    let cpu = Int(bytes[2])
    let micros =
        (UInt64(bytes[3]) << 24 | UInt64(bytes[4]) << 16 | UInt64(bytes[5]) << 8 | UInt64(bytes[6])) + 1_000_000
    let message = String(bytes[8...].dropFirst(15).map { letters[Int($0) % letters.count] }).replacing(": ", with: ":")
    guard !task.isEmpty else { return 0 }
    let line2 = TraceLine(
        task: task, pid: pid, cpu: cpu, flags: bytes[7] & 1 == 0 ? "d..31" : "", timestamp: Double(micros) / 1e6,
        message: message)
    let printed =
        "\(line2.task)-\(line2.pid) [\(line2.cpu)] \(line2.flags) \(line2.timestamp): bpf_trace_printk: \(line2.message)"
    precondition(TraceLine(parsing: printed) == line2, "round trip of \(printed.debugDescription)")
    return 0
}

/// This target's `main` (see ``runFuzzer(_:_:_:)``).
@_cdecl("ebpf_fuzz_trace_line_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runFuzzer(argc, argv, fuzzTraceLine)
}
