import EBPF

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
