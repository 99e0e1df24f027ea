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

/// The entry SwiftPM links as `main` for this executable (it renames `main` to
/// `<target>_main`): hands control to libFuzzer's driver with the callback above.
@_cdecl("ebpf_fuzz_format_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments, fuzzFormat)
}

/// libFuzzer's entry for programs with their own main (`int LLVMFuzzerRunDriver(int *argc,
/// char ***argv, int (*callback)(const uint8_t *, size_t))`).
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> Int32
) -> Int32
