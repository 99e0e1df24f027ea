/// Hands control to libFuzzer's driver with `callback`: what each target's `main` does.
/// SwiftPM links an executable target's `main` as `<target>_main`, which the targets define
/// with `@_cdecl` and forward here.
public func runFuzzer(
    _ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> Int32
) -> Int32 {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments, callback)
}

/// Splits an input at its first NUL: the text before it, and the bytes after it.
public func splitAtNUL(_ data: UnsafePointer<UInt8>, _ size: Int) -> (text: String, bytes: [UInt8]) {
    let input = UnsafeBufferPointer(start: data, count: size)
    let split = input.firstIndex(of: 0) ?? size
    let text = String(decoding: UnsafeBufferPointer(rebasing: input[0..<split]), as: UTF8.self)
    return (text, split < size ? Array(input[(split + 1)...]) : [])
}

/// libFuzzer's entry for programs with their own main (`int LLVMFuzzerRunDriver(int *argc,
/// char ***argv, int (*callback)(const uint8_t *, size_t))`).
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> Int32
) -> Int32
