@_spi(Fuzzing) import EBPF
import FuzzSupport

/// libFuzzer entry: the bytes of a compile cache entry file, as damage or another writer may
/// leave them. Reading must refuse them (nil) or return exactly what was written: encoding
/// the entry again gives the same bytes, so nothing read was guessed or dropped. Every other
/// input is checked as it comes (a damaged checksum must be refused) and with its last 8
/// bytes replaced by the right checksum, so that mutations reach the structure behind it.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCacheEntry(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    for input in [bytes, CompileCache.sealedEntry(Array(bytes.dropLast(8)))] {
        if let again = CompileCache.reencodedEntry(input) {
            precondition(again == input, "an entry read back differs from its bytes")
        }
    }
    return 0
}

/// This target's `main` (see ``runFuzzer(_:_:_:)``).
@_cdecl("ebpf_fuzz_cache_entry_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runFuzzer(argc, argv, fuzzCacheEntry)
}
