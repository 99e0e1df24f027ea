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
        for (name, value) in record.fields {
            _ = record[name]
            _ = value.description
        }
        _ = record.description
    }
    return 0
}
