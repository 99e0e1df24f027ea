import EBPF
import FuzzSupport

/// libFuzzer entry: a table type description as libbcc writes it (JSON), a NUL, then a
/// value's bytes. Laying out the description must throw or succeed, and decoding must read
/// only the value's bytes.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTable(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let (description, bytes) = splitAtNUL(data, size)
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

/// This target's `main` (see ``runFuzzer(_:_:_:)``).
@_cdecl("ebpf_fuzz_table_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runFuzzer(argc, argv, fuzzTable)
}
