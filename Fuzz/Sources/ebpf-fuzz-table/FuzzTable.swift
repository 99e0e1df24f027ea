import EBPF

/// libFuzzer entry: a table type description as libbcc writes it (JSON), a NUL, then a
/// value's bytes. Laying out the description must throw or succeed, and decoding must read
/// only the value's bytes.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTable(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let input = UnsafeBufferPointer(start: data, count: size)
    let split = input.firstIndex(of: 0) ?? size
    let description = String(decoding: UnsafeBufferPointer(rebasing: input[0..<split]), as: UTF8.self)
    let bytes = split < size ? Array(input[(split + 1)...]) : []
    if let value = try? TableValue(typeDescription: description, bytes: bytes) {
        for field in value.fields {
            _ = value[field.name]
            _ = field.value.description
        }
        _ = value.value
        _ = value.description
    }
    return 0
}

/// The entry SwiftPM links as `main` for this executable (it renames `main` to
/// `<target>_main`): hands control to libFuzzer's driver with the callback above.
@_cdecl("ebpf_fuzz_table_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments, fuzzTable)
}

/// libFuzzer's entry for programs with their own main (`int LLVMFuzzerRunDriver(int *argc,
/// char ***argv, int (*callback)(const uint8_t *, size_t))`).
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> Int32
) -> Int32
