#if canImport(Glibc)
import Glibc
#endif

/// Swift functions of this test binary that `SwiftUprobeTests` probes by their Swift names:
/// a method and its overload, a static method, one in an extension, a generic one and a
/// throwing one, each never inlined, so that every call below is a call.
enum SwiftFunctionFixture {
    struct Calculator {
        let base: Int

        @inline(never) func add(_ value: Int, to other: Int) -> Int { base + value + other }

        @inline(never) func add(_ value: Int) -> Int { base + value }

        @inline(never) static func make(base: Int) -> Calculator { Calculator(base: base) }
    }

    struct Refused: Error {}

    /// Returns `value` doubled, or throws for a negative one.
    @inline(never) static func doubled(_ value: Int) throws -> Int {
        guard value >= 0 else { throw Refused() }
        return value * 2
    }

    /// Returns `value` unchanged, whatever its type.
    @inline(never) static func identity<Value>(_ value: Value) -> Value { value }

    /// Sleeps `milliseconds` and returns them.
    @inline(never) static func nap(milliseconds: Int) -> Int {
        var request = timespec(tv_sec: 0, tv_nsec: milliseconds * 1_000_000)
        var remaining = timespec()
        while clock_nanosleep(CLOCK_MONOTONIC, 0, &request, &remaining) == EINTR { request = remaining }
        return milliseconds
    }

    /// Calls itself `depth - 1` times, each call napping `milliseconds` before it returns:
    /// the call at depth d lasts d naps or more.
    @inline(never) static func nested(depth: Int, milliseconds: Int) -> Int {
        let inner = depth > 1 ? nested(depth: depth - 1, milliseconds: milliseconds) : 0
        return inner + nap(milliseconds: milliseconds)
    }

    /// The path of the binary these functions are in: this test process's executable.
    static var binary: String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        precondition(count > 0, "readlink /proc/self/exe")
        return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

extension SwiftFunctionFixture.Calculator {
    @inline(never) func scaled(by factor: Int) -> Int { base * factor }
}
