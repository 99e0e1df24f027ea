import EBPF
import FuzzSupport

/// libFuzzer entry: any bytes as raw BTF. Parsing must throw or succeed, never crash, hang
/// or read out of bounds; every lookup on what it accepts must answer (nil where a type is
/// broken), including through cyclic typedefs and members.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBTF(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard let btf = try? BTF(parsing: Array(UnsafeBufferPointer(start: data, count: size))) else { return 0 }
    for id in 0...BTF.TypeID(min(btf.typeCount, 2_000) + 1) {
        _ = btf.typeName(of: id)
        _ = btf.shape(of: id)
        if let size = btf.size(of: id) { precondition(size >= 0, "a negative size") }
        for member in btf.members(of: id) ?? [] {
            precondition(member.bitOffset >= 0, "a negative offset")
            _ = btf.member([member.name], of: id)
        }
        let name = btf.name(of: id)
        if let function = btf.function(named: name) {
            precondition(function.name == name, "a function found by another name")
            _ = function.parameters.map { btf.typeName(of: $0.type) }
        }
        _ = btf.compositeType(named: name)
    }
    return 0
}

/// This target's `main` (see ``runFuzzer(_:_:_:)``).
@_cdecl("ebpf_fuzz_btf_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runFuzzer(argc, argv, fuzzBTF)
}
