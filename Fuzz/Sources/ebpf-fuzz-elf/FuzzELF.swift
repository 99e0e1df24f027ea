import EBPF
import FuzzSupport

#if canImport(Glibc)
import Glibc
#endif

/// This process's scratch file: `UserFunction.all(in:matching:)` reads a binary by path,
/// through the descriptor a uprobe would attach through.
let scratch = "/tmp/ebpf-fuzz-elf-\(getpid())"

/// libFuzzer entry: any bytes as an executable's file. Listing its functions (the ELF
/// reader's tables, then every Swift symbol demangled and named) must throw or succeed,
/// never crash, hang or read out of bounds; every function listed lies where the file said.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzELF(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    // Removed after each input: libFuzzer ends the process with exit(), past any defer of main.
    defer { unlink(scratch) }
    let file = open(scratch, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    precondition(file >= 0, "could not write \(scratch)")
    var written = 0
    while written < size {
        let count = write(file, data + written, size - written)
        precondition(count > 0, "could not write \(scratch)")
        written += count
    }
    close(file)
    for pattern in ["*", "/[a-z]+\\(/", "handle"] {
        guard let functions = try? UserFunction.all(in: scratch, matching: pattern) else { continue }
        for function in functions {
            precondition(!function.name.isEmpty && !function.symbol.isEmpty, "a function without a name")
        }
    }
    return 0
}

/// This target's `main` (see ``runFuzzer(_:_:_:)``).
@_cdecl("ebpf_fuzz_elf_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runFuzzer(argc, argv, fuzzELF)
}
