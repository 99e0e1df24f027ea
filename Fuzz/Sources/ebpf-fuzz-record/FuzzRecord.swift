import EBPF

/// libFuzzer entry: field descriptions as libbcc records them (`name#type` lines), a NUL,
/// then a record's bytes. Decoding must throw or succeed and read only the record's bytes.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRecord(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let input = UnsafeBufferPointer(start: data, count: size)
    let split = input.firstIndex(of: 0) ?? size
    let descriptions = String(decoding: UnsafeBufferPointer(rebasing: input[0..<split]), as: UTF8.self)
        .split(separator: "\n").map(String.init)
    let bytes = split < size ? Array(input[(split + 1)...]) : []
    if let record = try? EventRecord(fieldDescriptions: descriptions, bytes: bytes) {
        for field in record.fields {
            _ = record[field.name]
            _ = field.value.description
        }
        _ = record.description
    }
    return 0
}

/// The entry SwiftPM links as `main` for this executable (it renames `main` to
/// `<target>_main`): hands control to libFuzzer's driver with the callback above.
@_cdecl("ebpf_fuzz_record_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments, fuzzRecord)
}

/// libFuzzer's entry for programs with their own main (`int LLVMFuzzerRunDriver(int *argc,
/// char ***argv, int (*callback)(const uint8_t *, size_t))`).
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> Int32
) -> Int32
