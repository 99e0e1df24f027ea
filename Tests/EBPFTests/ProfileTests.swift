@_spi(Generator) @testable import EBPF
import CTestSupport
import Foundation
import XCTest

/// `profile(frequency:pid:)` on this process while one of its threads burns CPU: that
/// thread's function is the hottest frame, by the thread's name, and nothing of another
/// process is counted.
final class ProfileTests: XCTestCase {
    func testTheFunctionThatBurnsCPUIsTheHottestFrame() throws {
        try requireKernel()
        let b = try EBPFWrapper()
        defer { b.close() }
        let profile = try b.profile(frequency: 199, pid: ThisProcess.pid)
        StackFixture.burnOnThread(named: "ebpf-burner", cpuSeconds: 0.5)
        profile.detach()
        let stacks = try profile.foldedStacks()
        // 0.5 s of CPU at 199 Hz is about 100 samples; a loaded machine samples less often.
        let burning = stacks.filter { $0.frames.first == "ebpf-burner" }
        let total = burning.reduce(0) { $0 + $1.count }
        XCTAssertGreaterThanOrEqual(total, 20, "\(FoldedStack.foldedText(stacks))")
        var selfCounts: [String: UInt64] = [:]
        for stack in burning {
            // The innermost user frame (kernel frames end in `_[k]`). A sample taken inside a
            // sanitizer's runtime (ThreadSanitizer's checks of the loop's loads and stores)
            // says nothing of its caller: the runtime keeps no frame pointer, so the walk
            // skips the caller's frame. Those samples are left out.
            guard let leaf = stack.frames.dropFirst().last(where: { !$0.hasSuffix("_[k]") }),
                !StackFixture.isSanitizerRuntime(leaf)
            else { continue }
            selfCounts[leaf, default: 0] += stack.count
        }
        let hottest = selfCounts.max { $0.value < $1.value }
        XCTAssertEqual(hottest?.key, "EBPFTests.StackFixture.burn(cpuSeconds:)", "\(selfCounts)")
        XCTAssertThrowsError(try b.profile(frequency: 0)) { XCTAssertEqual(($0 as! EBPFError).code, .invalidArgument) }
    }
}
