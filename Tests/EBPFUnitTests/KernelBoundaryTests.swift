import Glibc
import XCTest

@testable import EBPF
import EBPFKernel

/// The kernel boundary through its seam, without root: a fault injected at
/// `SystemCall.check` fails the named call as the kernel would, without making it, and the
/// public error keeps its documented code.
final class KernelBoundaryTests: XCTestCase {
    func testAnInjectedFaultFailsTheCallWithoutMakingIt() throws {
        var made = 0
        let faults = [SystemCall.Fault("getppid", errno: EMFILE, skip: 1, count: 2)]
        let (outcomes, failures) = SystemCall.injecting(faults) {
            (0..<4).map { _ -> Int32? in
                do throws(SystemCallFailure) {
                    _ = try SystemCall.check("getppid") { () -> Int32 in
                        made += 1
                        return getppid()
                    }
                    return nil
                } catch {
                    XCTAssertEqual(error.call, "getppid")
                    return error.errno
                }
            }
        }
        XCTAssertEqual(outcomes, [nil, EMFILE, EMFILE, nil], "the first skipped, the next two failed")
        XCTAssertEqual(made, 2, "failed calls are not made")
        XCTAssertEqual(failures, 2)
        XCTAssertEqual(try SystemCall.check("getppid") { getppid() }, getppid(), "removed after the body")
    }

    /// A refused open of a file the library reads becomes `.permissionDenied`, saying what was
    /// being done and what BPF needs; a missing one `.notFound`.
    func testErrnoChoosesTheDocumentedCode() throws {
        for (errno, code) in [
            (EACCES, EBPFError.Code.permissionDenied), (ENOENT, .notFound), (EMFILE, .systemCallFailed),
        ] {
            let (error, failures) = SystemCall.injecting([SystemCall.Fault("open", errno: errno)]) { () -> EBPFError? in
                do throws(SystemCallFailure) {
                    _ = try FileDescriptor.open("/proc/self/stat", O_RDONLY)
                    return nil
                } catch {
                    return error.error(.systemCallFailed, "could not read /proc/self/stat")
                }
            }
            XCTAssertEqual(failures, 1)
            XCTAssertEqual(error?.code, code, "errno \(errno)")
            XCTAssertEqual(error?.call, "open")
            XCTAssertEqual(error?.errno, errno)
            XCTAssertTrue(
                error?.message.hasPrefix("could not read /proc/self/stat") ?? false, "\(String(describing: error))")
        }
    }
}
