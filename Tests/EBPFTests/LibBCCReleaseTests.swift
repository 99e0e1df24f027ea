@_spi(Generator) @testable import EBPF
import Foundation
import XCTest
@testable import EBPFKernel

/// Which libbcc release is loaded, and the refusal of one older than the library supports.
final class LibBCCReleaseTests: XCTestCase {
    func testTheReleaseIsReadFromTheLibraryFileName() {
        XCTAssertEqual(
            LibBCCRelease(libraryFile: "/usr/lib/x86_64-linux-gnu/libbcc_bpf.so.0.26.0"), LibBCCRelease(0, 26, 0))
        XCTAssertEqual(LibBCCRelease(libraryFile: "/opt/bcc.so.9/lib/libbcc_bpf.so.0.18.0"), LibBCCRelease(0, 18, 0))
        XCTAssertEqual(LibBCCRelease(libraryFile: "/usr/lib64/libbcc_bpf.so.0.31.1"), LibBCCRelease(0, 31, 1))
        XCTAssertNil(LibBCCRelease(libraryFile: "/usr/lib/x86_64-linux-gnu/libbcc_bpf.so.0"))
        XCTAssertNil(LibBCCRelease(libraryFile: "/usr/lib/libbcc_bpf.so"))
        XCTAssertNil(LibBCCRelease(libraryFile: "/usr/lib/libbcc_bpf.so.0.x.1"))
    }

    func testEachDifferenceIsDecidedByTheRelease() {
        XCTAssertEqual(LibBCCRelease(0, 18).functionLoadArguments, 11)
        XCTAssertEqual(LibBCCRelease(0, 24, 1).functionLoadArguments, 11)
        XCTAssertEqual(LibBCCRelease(0, 25).functionLoadArguments, 12)
        XCTAssertTrue(LibBCCRelease(0, 18).usdtConstantIsInt)
        XCTAssertFalse(LibBCCRelease(0, 19).usdtConstantIsInt)
        XCTAssertNil(LibBCCRelease(0, 18).refusal(file: "f"))
        XCTAssertNil(LibBCCRelease(1, 0).refusal(file: "f"))
    }

    /// `KFUNC_PROBE(f)` names `kfunc__f` before libbcc 0.28 and `kfunc__vmlinux__f` since;
    /// both lead to `f`, and nothing else is taken for a tracing function.
    func testEitherReleasesKFUNCNamesLeadToTheFunction() {
        func target(_ name: String) -> String? {
            KernelFunctionProbe.target(ofFunctionNamed: name).map { ($0.isExit ? "exit " : "entry ") + $0.function }
        }
        XCTAssertEqual(target("kfunc__do_sys_openat2"), "entry do_sys_openat2")
        XCTAssertEqual(target("kfunc__vmlinux__do_sys_openat2"), "entry do_sys_openat2")
        XCTAssertEqual(target("kretfunc__vfs_read"), "exit vfs_read")
        XCTAssertEqual(target("kretfunc__vmlinux__vfs_read"), "exit vfs_read")
        XCTAssertEqual(target("kfunc____x64_sys_openat"), "entry __x64_sys_openat")
        XCTAssertNil(target("kfunc__"))
        XCTAssertNil(target("kfunc__vmlinux__"))
        XCTAssertNil(target("kprobe__vfs_read"))
        XCTAssertEqual(
            KernelFunctionProbe.functionNames("vfs_read", exit: true),
            ["kretfunc__vfs_read", "kretfunc__vmlinux__vfs_read"])
    }

    /// The release loaded is the one the environment installed: `EBPF_EXPECTED_LIBBCC` where
    /// the test matrix put another release first in the library path, else Debian's package.
    func testTheLoadedReleaseIsTheInstalledOne() throws {
        try requireKernel()
        let expected = try ProcessInfo.processInfo.environment["EBPF_EXPECTED_LIBBCC"] ?? installedPackageVersion()
        XCTAssertEqual(KernelFeatures.libbccVersion, expected)
        // For the run's figures: what this environment is and what its kernel attaches.
        print(
            "RELIABILITY environment \(ProcessInfo.processInfo.environment["EBPF_ENVIRONMENT"] ?? "host"): kernel \(ThisKernel.release), libbcc \(expected), kprobes \(KernelFeatures.supportsKprobes ? "yes" : "no"), uprobes \(KernelFeatures.supportsUprobes ? "yes" : "no"), fentry \(fentryLoads ? "yes" : "no")"
        )
        XCTAssertEqual(
            LibBCC.runtimeLibraryFile.map { URL(fileURLWithPath: $0).lastPathComponent }, "libbcc_bpf.so.\(expected)")
    }

    /// A process whose library path leads to a libbcc older than 0.18 is refused with both
    /// releases named. The library is this machine's own, under an older release's file name:
    /// the name is what says the release.
    func testALibBCCOlderThanTheOldestSupportedIsRefusedNamingBothReleases() throws {
        try requireKernel()
        let real = try XCTUnwrap(LibBCC.runtimeLibraryFile)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("old-libbcc-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let old = directory.appendingPathComponent("libbcc_bpf.so.0.17.0")
        try FileManager.default.copyItem(atPath: real, toPath: old.path)
        try FileManager.default.createSymbolicLink(
            atPath: directory.appendingPathComponent("libbcc_bpf.so.0").path, withDestinationPath: old.lastPathComponent
        )
        let inherited = ProcessInfo.processInfo.environment["LD_LIBRARY_PATH"].map { ":" + $0 } ?? ""
        let run = try ChildProcess(
            try builtExample("ebpf-trace").path, ["getppid", "--duration", "1"],
            environment: ["LD_LIBRARY_PATH": directory.path + inherited])
        XCTAssertNotEqual(run.wait(), .exited(0))
        XCTAssertTrue(
            run.standardError.contains(
                "libbcc 0.17.0 (\(old.path)) is older than 0.18.0, the oldest release this library supports: install libbcc 0.18.0 or newer from your distribution"
            ), run.standardError)
    }

    /// The upstream part of the installed libbpfcc package's version (`0.26.0+ds-1` → `0.26.0`).
    private func installedPackageVersion() throws -> String {
        let query = try ChildProcess("/usr/bin/dpkg-query", ["-W", "-f=${Version}", "libbpfcc"])
        XCTAssertEqual(query.wait(), .exited(0), query.standardError)
        var version = Substring(query.standardOutput)
        if let colon = version.firstIndex(of: ":") { version = version[version.index(after: colon)...] }
        return String(version.prefix { $0.isNumber || $0 == "." })
    }
}
