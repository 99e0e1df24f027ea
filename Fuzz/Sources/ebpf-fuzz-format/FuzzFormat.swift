import EBPF
import FuzzSupport

/// libFuzzer entry: any bytes as a tracepoint format file. Parsing must throw or succeed,
/// never crash, hang or read out of bounds; what it accepts must describe itself.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFormat(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    if let format = try? TracepointFormat(category: "fuzz", name: "input", parsing: text) {
        for field in format.fields + format.commonFields {
            precondition(field.offset >= 0 && field.size >= 0, "accepted a negative offset or size")
            _ = field.description
        }
    }
    return 0
}

/// This target's `main` (see ``runFuzzer(_:_:_:)``).
@_cdecl("ebpf_fuzz_format_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runFuzzer(argc, argv, fuzzFormat)
}
