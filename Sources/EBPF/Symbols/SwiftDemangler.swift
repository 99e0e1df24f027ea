#if canImport(Glibc)
import Glibc
#endif

/// Swift symbol names (`$s9EBPFTests15ebpfTestSpinneryys5Int32VF`) made readable
/// (`EBPFTests.ebpfTestSpinner(Swift.Int32) -> ()`) by the Swift runtime's demangler;
/// libbcc demangles only C++.
enum SwiftDemangler {
    static func demangle(_ name: String) -> String? {
        guard ["$s", "_$s", "$S", "_$S", "_T0"].contains(where: name.hasPrefix) else { return nil }
        // NUL-terminated: the runtime also reads the name as a C string (isSwiftSymbol),
        // whatever length it is given.
        guard let demangled = name.withCString({ swift_demangle($0, strlen($0), nil, nil, 0) }) else { return nil }
        defer { free(demangled) }
        return String(cString: demangled)
    }
}

/// The Swift runtime's demangler (exported by libswiftCore); returns a malloc'ed string.
@_silgen_name("swift_demangle")
private func swift_demangle(
    _ mangledName: UnsafePointer<CChar>?, _ mangledNameLength: Int, _ outputBuffer: UnsafeMutablePointer<CChar>?,
    _ outputBufferSize: UnsafeMutablePointer<Int>?, _ flags: UInt32
) -> UnsafeMutablePointer<CChar>?
