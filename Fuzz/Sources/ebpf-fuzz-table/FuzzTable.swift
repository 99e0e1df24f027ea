import EBPF
import FuzzSupport

/// libFuzzer entry: a table type description as libbcc writes it (JSON), a NUL, then a
/// value's bytes. Laying out the description must throw or succeed, decoding must read only
/// the value's bytes, and every field of an accepted description is named by C identifiers
/// (a dotted path for nested members) or is the unnamed field of a scalar.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTable(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let (description, bytes) = splitAtNUL(data, size)
    if let value = try? TableValue(typeDescription: description, bytes: bytes) {
        for field in value.fields {
            precondition(
                field.name.isEmpty
                    || field.name.split(separator: ".", omittingEmptySubsequences: false).allSatisfy(isIdentifier),
                "field name \(field.name.debugDescription) from \(description.debugDescription)")
            _ = value[field.name]
            _ = field.value.description
        }
        _ = value.value
        _ = value.description
    }
    return 0
}

private func isIdentifier(_ name: Substring) -> Bool {
    guard let first = name.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic) else {
        return false
    }
    return name.unicodeScalars.allSatisfy {
        $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0)))
    }
}

/// This target's `main` (see ``runFuzzer(_:_:_:)``).
@_cdecl("ebpf_fuzz_table_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runFuzzer(argc, argv, fuzzTable)
}
