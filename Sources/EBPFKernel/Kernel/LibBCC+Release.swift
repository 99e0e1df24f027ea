/// Which libbcc release the process loaded, and what each release differs in: the one place
/// that knows which calls and layouts changed between 0.18 (Debian 11, Ubuntu 22.04) and 0.31
/// (Debian 13).
///
/// Every release installs its libraries as `libbcc_bpf.so.0.<minor>.<patch>` (bcc's CMake sets
/// the file's version to the release), so the file the dynamic loader mapped names it.
package struct LibBCCRelease: Comparable, Sendable, CustomStringConvertible {
    package var major: Int
    package var minor: Int
    package var patch: Int

    package init(_ major: Int, _ minor: Int, _ patch: Int = 0) {
        (self.major, self.minor, self.patch) = (major, minor, patch)
    }

    /// The release a library file's name gives (`…/libbcc_bpf.so.0.26.0`); nil when the name
    /// carries no full version (a library renamed by hand).
    package init?(libraryFile path: String) {
        let name = path.split(separator: "/").last ?? ""
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        guard let so = parts.lastIndex(of: "so"), parts.count == so + 4, let major = Int(parts[so + 1]),
            let minor = Int(parts[so + 2]), let patch = Int(parts[so + 3])
        else { return nil }
        self.init(major, minor, patch)
    }

    package var description: String { "\(major).\(minor).\(patch)" }

    package static func < (a: Self, b: Self) -> Bool { (a.major, a.minor, a.patch) < (b.major, b.minor, b.patch) }

    /// The oldest release this library supports (Debian 11's, which Ubuntu 22.04 ships too).
    package static let oldestSupported = LibBCCRelease(0, 18)

    // MARK: What changed, by release

    /// `bcc_func_load` gained its `attach_type` parameter (12 instead of 11).
    package static let functionLoadTakesAttachType = LibBCCRelease(0, 25)
    /// `struct bcc_usdt_argument`'s `constant` became a `long long` (56 bytes instead of 48).
    package static let usdtConstantBecameLong = LibBCCRelease(0, 19)
    /// libbcc stopped defining `__HAVE_BUILTIN_BSWAP*__` on clang's command line.
    package static let bswapMacrosLeftToHeaders = LibBCCRelease(0, 20)

    /// Flags for every compile: before 0.20, libbcc defines `__HAVE_BUILTIN_BSWAP*__` on
    /// clang's command line, which kernel headers from 5.x on define again, and clang would
    /// warn three times per compile.
    package var compilerFlags: [String] { self < Self.bswapMacrosLeftToHeaders ? ["-Wno-macro-redefined"] : [] }

    /// How many parameters this release's `bcc_func_load` has.
    package var functionLoadArguments: Int32 { self < Self.functionLoadTakesAttachType ? 11 : 12 }

    /// Whether this release's `bcc_usdt_argument` holds its constant in an `int`.
    package var usdtConstantIsInt: Bool { self < Self.usdtConstantBecameLong }

    /// The error for a release older than ``oldestSupported``; nil for a supported one.
    package func refusal(file: String) -> EBPFError? {
        guard self < Self.oldestSupported else { return nil }
        return EBPFError(
            .notSupported,
            "libbcc \(self) (\(file)) is older than \(Self.oldestSupported), the oldest release this library supports: \(Self.upgradeAdvice)"
        )
    }

    /// Where a newer libbcc comes from.
    package static let upgradeAdvice =
        "install libbcc \(oldestSupported) or newer from your distribution (Debian 11+ and Ubuntu 22.04+: apt-get install libbpfcc; Fedora: dnf install bcc)"
}
