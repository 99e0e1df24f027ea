import EBPF
import FuzzSupport

/// libFuzzer entry: field descriptions as libbcc records them (`name#type` lines), a NUL,
/// then a record's bytes. Decoding must throw or succeed and read only the record's bytes.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRecord(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let (text, bytes) = splitAtNUL(data, size)
    let descriptions = text.split(separator: "\n").map(String.init)
    if let record = try? EventRecord(fieldDescriptions: descriptions, bytes: bytes) {
        for field in record.fields {
            _ = record[field.name]
            _ = field.value.description
        }
        _ = record.description
    }
    return 0
}

/// This target's `main` (see ``runFuzzer(_:_:_:)``).
@_cdecl("ebpf_fuzz_record_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runFuzzer(argc, argv, fuzzRecord)
}
