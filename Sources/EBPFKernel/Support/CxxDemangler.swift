#if canImport(Glibc)
import Glibc
#endif

/// C++ symbol names (`_ZNK2ns7Counter3addEll`) made readable (`ns::Counter::add(long,
/// long) const`) by the C++ runtime's `__cxa_demangle`, as libbcc's symbolizer and
/// binutils' `c++filt` print them (c++filt spells out `std::string` and the standard
/// streams).
///
/// The demangler is libstdc++'s, which the Swift runtime (libswiftCore) links on Linux; it
/// is looked up at run time all the same, and without it no C++ name is demangled.
package enum CxxDemangler {
    package static func demangle(_ symbol: String) -> String? {
        guard symbol.hasPrefix("_Z"), let demangle = cxaDemangle else { return nil }
        var status: Int32 = 0
        guard let demangled = demangle(symbol, nil, nil, &status) else { return nil }
        defer { free(demangled) }
        return status == 0 ? String(cString: demangled) : nil
    }

    /// `char *__cxa_demangle(const char *mangled, char *buffer, size_t *length, int *status)`:
    /// returns a malloc'ed string, or NULL with a negative status.
    private typealias Demangle =
        @convention(c) (
            UnsafePointer<CChar>?, UnsafeMutablePointer<CChar>?, UnsafeMutablePointer<Int>?,
            UnsafeMutablePointer<Int32>?
        ) -> UnsafeMutablePointer<CChar>?

    private static let cxaDemangle: Demangle? = {
        guard let address = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "__cxa_demangle") else { return nil }
        return unsafeBitCast(address, to: Demangle.self)
    }()
}
