import Foundation
import XCTest

/// LeakSanitizer's check, run when the last test has finished rather than at exit.
///
/// At exit, XCTest has already dropped its test suites, whose objects refer to each other
/// and so look leaked; suppressing them by name would also hide every leak made under a
/// test (each test runs below those same XCTest functions). At the end of the bundle they
/// are still referenced, so the check sees only what the tests and the library leaked.
/// scripts/test.sh turns the exit-time check off (`leak_check_at_exit=0`); a leak found
/// here ends the process with LeakSanitizer's report and exit status 23.
final class LeakCheck: NSObject, XCTestObservation {
    /// Registers the check once per process; does nothing outside AddressSanitizer builds.
    static let install: Void = {
        guard dlsym(UnsafeMutableRawPointer(bitPattern: 0), "__lsan_do_leak_check") != nil else { return }
        XCTestObservationCenter.shared.addTestObserver(LeakCheck())
    }()

    func testBundleDidFinish(_ testBundle: Bundle) {
        typealias Check = @convention(c) () -> Void
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "__lsan_do_leak_check") else { return }
        unsafeBitCast(symbol, to: Check.self)()
    }
}
