@testable import EBPF
import Foundation
import XCTest

/// Cgroups in events, filters and aggregation keys, with cgroups this test makes under the
/// cgroup2 mount and children it moves into them. The children are this test binary run
/// again (EBPF_TEST_CGROUP_CHILD selects the role): each waits for a file to appear, makes a
/// known number of `fchdir` calls on a descriptor no one has, and exits. (Not a call the
/// runtime makes itself: under AddressSanitizer, LeakSanitizer calls getppid at exit.)
final class CgroupTests: XCTestCase {
    static let childRole = "EBPF_TEST_CGROUP_CHILD"
    static let childTest = "EBPFTests.CgroupTests/testFiltersKeysAndEventsFollowTheCgroup"

    func testFiltersKeysAndEventsFollowTheCgroup() throws {
        if let go = ProcessInfo.processInfo.environment[Self.childRole] { Self.runAsChild(go: go) }
        try requireKernel()
        let mount = try Cgroup.mountPoint()
        let parent = TestCgroup(mount: mount, name: "ebpf-test-\(getpid())")
        let child = TestCgroup(mount: mount, name: parent.name + "/sub")
        defer {
            child.remove()
            parent.remove()
        }
        try parent.make()
        try child.make()
        let (parentCgroup, childCgroup) = (try Cgroup(path: parent.path), try Cgroup(path: parent.relative + "/sub"))
        XCTAssertEqual(parentCgroup.path, parent.relative)
        XCTAssertEqual(childCgroup.path, parent.relative + "/sub")
        XCTAssertNotEqual(parentCgroup.id, childCgroup.id)

        let b = try EBPFWrapper()
        defer { b.close() }
        let below = Collected<(pid: Int32, cgroup: UInt64)>()
        let exactly = Collected<(pid: Int32, cgroup: UInt64)>()
        try b.attach(.syscall("fchdir"), filter: ProbeFilter(cgroup: parent.path)) { event in
            below.append((event.processID, event.cgroupID))
        }
        try b.attach(.syscall("fchdir"), filter: ProbeFilter(cgroup: parent.relative, cgroupDescendants: false)) {
            event in exactly.append((event.processID, event.cgroupID))
        }
        let byCgroup = try b.aggregate(.syscall("fchdir"), by: .cgroup)
        // The same filters compiled by clang from the C (bcc's check_current_task).
        let compiled = try EBPFWrapper(cache: nil, probeBuilder: .compiler)
        defer { compiled.close() }
        let compiledBelow = try compiled.aggregate(
            .syscall("fchdir"), by: .processID, filter: ProbeFilter(cgroup: parent.path))
        let compiledExactly = try compiled.aggregate(
            .syscall("fchdir"), by: .processID, filter: ProbeFilter(cgroup: parent.path, cgroupDescendants: false))

        // In the parent cgroup, in the one below it, and outside both.
        let go = NSTemporaryDirectory() + "ebpf-cgroup-go-\(getpid())"
        unlink(go)
        defer { unlink(go) }
        let children = try Self.startCallers([100, 50, 70], go: go)
        defer { children.forEach { $0.signal(SIGKILL) } }
        try parent.move(children[0].pid)
        try child.move(children[1].pid)
        XCTAssertEqual(try Cgroup.of(processID: children[0].pid), parentCgroup)
        XCTAssertEqual(try Cgroup.of(processID: children[1].pid), childCgroup)
        XCTAssertTrue(FileManager.default.createFile(atPath: go, contents: nil))
        for process in children {
            XCTAssertEqual(process.wait(), .exited(0), process.standardOutput)
        }
        XCTAssertTrue(waitForDeliveryOfEverythingWrittenSoFar(b))

        let (inParent, inChild, outside) = (children[0].pid, children[1].pid, children[2].pid)
        func count(_ events: [(pid: Int32, cgroup: UInt64)], _ pid: Int32) -> Int {
            events.filter { $0.pid == pid }.count
        }
        XCTAssertEqual(below.all.count, 150, "the parent's and the child cgroup's calls, nothing else")
        XCTAssertEqual(
            [count(below.all, inParent), count(below.all, inChild), count(below.all, outside)], [100, 50, 0])
        XCTAssertEqual(Set(below.all.filter { $0.pid == inParent }.map(\.cgroup)), [parentCgroup.id])
        XCTAssertEqual(Set(below.all.filter { $0.pid == inChild }.map(\.cgroup)), [childCgroup.id])
        XCTAssertEqual(exactly.all.count, 100, "the parent cgroup's alone")
        XCTAssertEqual(count(exactly.all, inParent), 100)
        let counts = Dictionary(
            uniqueKeysWithValues: try byCgroup.snapshot().map { ($0.key?.uint64Value ?? 0, $0.count) })
        XCTAssertEqual(counts[parentCgroup.id], 100)
        XCTAssertEqual(counts[childCgroup.id], 50)
        func byProcess(_ aggregation: Aggregation) throws -> [Int: UInt64] {
            Dictionary(uniqueKeysWithValues: try aggregation.snapshot().map { ($0.key?.intValue ?? 0, $0.count) })
        }
        XCTAssertEqual(try byProcess(compiledBelow), [Int(inParent): 100, Int(inChild): 50])
        XCTAssertEqual(try byProcess(compiledExactly), [Int(inParent): 100])

        // Named back from the ids, and a cgroup made again under the same name is a new id.
        let resolver = CgroupResolver()
        XCTAssertEqual(resolver.cgroup(id: parentCgroup.id), parentCgroup)
        XCTAssertEqual(resolver.cgroup(id: childCgroup.id), childCgroup)
        let walks = resolver.walkCount
        XCTAssertEqual(resolver.cgroup(id: parentCgroup.id)?.path, parent.relative, "answered from what it found")
        XCTAssertEqual(resolver.walkCount, walks)
        child.remove()
        try child.make()
        let remade = try Cgroup(path: parent.relative + "/sub")
        XCTAssertNotEqual(remade.id, childCgroup.id)
        XCTAssertEqual(resolver.cgroup(id: remade.id), remade, "a cgroup made since is found by walking again")
        XCTAssertEqual(resolver.walkCount, walks + 1)
        XCTAssertEqual(resolver.cgroup(id: childCgroup.id)?.path, childCgroup.path, "a removed cgroup keeps its path")
        XCTAssertNil(resolver.cgroup(id: UInt64.max))
        XCTAssertNil(resolver.cgroup(id: UInt64.max))
        XCTAssertEqual(resolver.walkCount, walks + 2, "an id no walk found is not walked for again")
    }

    /// Each runtime's scope names, as directories of the cgroup2 mount, resolve to the
    /// containers and pods they name.
    func testContainerScopesResolveToTheirContainers() throws {
        try requireKernel()
        let mount = try Cgroup.mountPoint()
        let id = String(repeating: "0123456789abcdef", count: 4)
        let pod = "kubepods-burstable-pod3f0c1a2b_4c5d_6e7f_8091_a2b3c4d5e6f7.slice"
        let root = TestCgroup(mount: mount, name: "ebpf-test-scopes-\(getpid())")
        let scopes = [
            ("docker-\(id).scope", "docker"), ("cri-containerd-\(id).scope", "containerd"),
            ("crio-\(id).scope", "cri-o"),
            ("libpod-\(id).scope", "podman"), ("\(pod)/cri-containerd-\(id).scope", "containerd"),
        ].map { (TestCgroup(mount: mount, name: root.name + "/" + $0.0), $0.1) }
        let podCgroup = TestCgroup(mount: mount, name: root.name + "/" + pod)
        defer {
            scopes.reversed().forEach { $0.0.remove() }
            podCgroup.remove()
            root.remove()
        }
        try root.make()
        try podCgroup.make()
        for (scope, _) in scopes { try scope.make() }
        let resolver = CgroupResolver()
        for (scope, runtime) in scopes {
            let found = try XCTUnwrap(resolver.cgroup(id: try Cgroup(path: scope.path).id), scope.relative)
            XCTAssertEqual(found.path, scope.relative)
            XCTAssertEqual(found.name.containerID, id, scope.relative)
            XCTAssertEqual(found.name.runtime, runtime, scope.relative)
            XCTAssertEqual(found.name.unit, String(scope.relative.split(separator: "/").last!))
        }
        let inPod = try XCTUnwrap(resolver.cgroup(id: try Cgroup(path: scopes[4].0.path).id))
        XCTAssertEqual(inPod.name.podUID, "3f0c1a2b-4c5d-6e7f-8091-a2b3c4d5e6f7")
        XCTAssertNil(try Cgroup(path: scopes[0].0.path).name.podUID)
        XCTAssertEqual(resolver.walkCount, 1, "one walk found them all")
    }

    func testBadCgroupPathsAreRefusedBeforeAnythingLoads() throws {
        try requireKernel()
        let b = try EBPFWrapper()
        defer { b.close() }
        for path in ["/../etc", "relative/path", "/a//b", "/a/./b", "/a\nb"] {
            XCTAssertThrowsError(try b.attach(.syscall("getppid"), filter: ProbeFilter(cgroup: path)) { _ in }) {
                XCTAssertEqual(($0 as? EBPFError)?.code, .invalidArgument, "\(path): \($0)")
            }
        }
        XCTAssertThrowsError(
            try b.aggregate(.syscall("getppid"), filter: ProbeFilter(cgroup: "/ebpf-test-no-such-\(getpid())"))
        ) {
            XCTAssertEqual(($0 as? EBPFError)?.code, .notFound, "\($0)")
            XCTAssertTrue("\($0)".contains("is not a directory of the cgroup2 mount"), "\($0)")
        }
        XCTAssertTrue(b.session.probes.isEmpty)
    }

    /// Children that each make their count of `fchdir(900_061)` calls once the file `go` exists,
    /// then exit; returned once each is ready.
    static func startCallers(_ counts: [Int], go: String) throws -> [ChildProcess] {
        var children: [ChildProcess] = []
        for count in counts {
            let process = try ChildProcess(
                try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"), [childTest],
                environment: [childRole: go, "EBPF_TEST_CGROUP_CALLS": String(count)], mergeOutput: true)
            children.append(process)
            XCTAssertTrue(process.waitForOutput("CHILD READY", timeout: childReadyTimeout), process.standardOutput)
        }
        return children
    }

    /// The child's role: wait for the go file, make the calls, exit.
    static func runAsChild(go: String) -> Never {
        let calls = Int(ProcessInfo.processInfo.environment["EBPF_TEST_CGROUP_CALLS"] ?? "") ?? 0
        print("CHILD READY")
        fflush(nil)
        while access(go, F_OK) != 0 { usleep(1_000) }
        for _ in 0..<calls { _ = fchdir(900_061) }
        print("CHILD DONE \(calls)")
        fflush(nil)
        exit(0)
    }
}

/// A cgroup the test makes under the cgroup2 mount, and removes.
struct TestCgroup {
    let mount: String
    /// Its path below the mount, without the leading `/`.
    let name: String

    var path: String { mount + "/" + name }
    var relative: String { "/" + name }

    /// Makes it, anew if a run that crashed left it.
    func make() throws {
        if mkdir(path, 0o755) == 0 { return }
        guard errno == EEXIST, rmdir(path) == 0, mkdir(path, 0o755) == 0 else {
            throw EBPFError(.systemCallFailed, "mkdir \(path): \(String(cString: strerror(errno)))")
        }
    }

    func move(_ pid: pid_t) throws {
        let procs = path + "/cgroup.procs"
        guard let handle = FileHandle(forWritingAtPath: procs) else {
            throw EBPFError(.systemCallFailed, "cannot open \(procs)")
        }
        defer { try? handle.close() }
        try handle.write(contentsOf: Data("\(pid)\n".utf8))
    }

    func remove(file: StaticString = #filePath, line: UInt = #line) {
        if rmdir(path) != 0, errno != ENOENT {
            XCTFail("rmdir \(path): \(String(cString: strerror(errno)))", file: file, line: line)
        }
    }
}

/// What the tracer's cgroup tests share: a cgroup the test makes with a `worker` cgroup
/// below it, and three callers waiting for a go file to make 30, 20 and 40 calls of
/// `fchdir`: the first in the parent, the second in the worker, the third outside both.
final class CgroupScene {
    let parent: TestCgroup
    let child: TestCgroup
    private(set) var callers: [ChildProcess] = []
    private let go: String

    init(name: String) throws {
        let mount = try Cgroup.mountPoint()
        parent = TestCgroup(mount: mount, name: name)
        child = TestCgroup(mount: mount, name: name + "/worker")
        go = NSTemporaryDirectory() + name + "-go"
        unlink(go)
        do {
            try parent.make()
            try child.make()
            callers = try CgroupTests.startCallers([30, 20, 40], go: go)
            try parent.move(callers[0].pid)
            try child.move(callers[1].pid)
        } catch {
            end()
            throw error
        }
    }

    /// Lets the callers make their calls, and waits until each has.
    func run(file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertTrue(FileManager.default.createFile(atPath: go, contents: nil), file: file, line: line)
        for caller in callers {
            XCTAssertEqual(caller.wait(), .exited(0), caller.standardOutput, file: file, line: line)
        }
    }

    /// Ends the callers, then removes the cgroups and the go file.
    func end() {
        for caller in callers {
            caller.signal(SIGKILL)
            _ = caller.wait()
        }
        child.remove()
        parent.remove()
        unlink(go)
    }
}
