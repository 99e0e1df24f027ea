@_spi(Generator) @testable import EBPF
import Foundation
import XCTest

/// Kernels before 5.11 charge BPF maps and programs to the locked-memory limit, which is
/// 64 KiB by default (Debian 11's 5.10): the library's own loads raise it when refused, as
/// libbcc's do. Newer kernels charge the memory cgroup, and the limit is left alone.
final class MemoryLockLimitTests: XCTestCase {
    private func limit() -> rlimit {
        var value = rlimit()
        XCTAssertEqual(getrlimit(__rlimit_resource_t(__RLIMIT_MEMLOCK.rawValue), &value), 0)
        return value
    }

    private func setLimit(_ value: rlimit) {
        var value = value
        XCTAssertEqual(setrlimit(__rlimit_resource_t(__RLIMIT_MEMLOCK.rawValue), &value), 0)
    }

    func testAnEmittedProbeLoadsUnderTheDefaultLimitOfDebian11() throws {
        try requireKernel()
        let saved = limit()
        defer { setLimit(saved) }
        // The soft limit only: without CAP_SYS_RESOURCE (as in this project's sandbox) a hard
        // limit once lowered cannot be raised again.
        setLimit(rlimit(rlim_cur: 65_536, rlim_max: saved.rlim_max))

        let b = try EBPFWrapper(cache: nil)
        defer { b.close() }
        let events = Collected<ProbeEvent>()
        try b.attach(.syscall("getppid"), filter: ourThread) { events.append($0) }
        _ = getppid()
        XCTAssertTrue(waitUntil { events.count == 1 })

        let charged = ThisKernel.isOlder(than: 5, 11)
        // Raised to infinity, or to the hard limit where the process may not go beyond it.
        let raised = [rlim_t.max, saved.rlim_max]
        XCTAssertTrue(
            charged ? raised.contains(limit().rlim_cur) : limit().rlim_cur == 65_536,
            "kernel \(ThisKernel.release) \(charged ? "charges" : "does not charge") BPF memory to RLIMIT_MEMLOCK; now \(limit())"
        )
    }
}
