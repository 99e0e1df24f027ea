import EBPFKernel
import XCTest

@testable import EBPF

/// What cgroup paths say, as systemd and the container runtimes name their cgroups.
final class CgroupNameTests: XCTestCase {
    private let id = String(repeating: "0123456789abcdef", count: 4)

    func testSystemdUnits() {
        XCTAssertEqual(CgroupName(path: "/system.slice/nginx.service").unit, "nginx.service")
        XCTAssertEqual(CgroupName(path: "/user.slice/user-1000.slice/session-2.scope").unit, "session-2.scope")
        XCTAssertEqual(CgroupName(path: "/system.slice/nginx.service/worker").unit, "nginx.service", "the deepest unit")
        XCTAssertEqual(CgroupName(path: "/system.slice").unit, "system.slice")
        XCTAssertNil(CgroupName(path: "/").unit)
        XCTAssertNil(CgroupName(path: "/ebpf-test").unit)
        XCTAssertEqual(CgroupName(path: "/system.slice/nginx.service").description, "nginx.service")
    }

    func testContainerScopesOfEachRuntime() {
        for (prefix, runtime) in [
            ("docker-", "docker"), ("cri-containerd-", "containerd"), ("crio-", "cri-o"), ("libpod-", "podman"),
        ] {
            let name = CgroupName(path: "/system.slice/\(prefix)\(id).scope")
            XCTAssertEqual(name.containerID, id, prefix)
            XCTAssertEqual(name.runtime, runtime, prefix)
            XCTAssertEqual(name.unit, "\(prefix)\(id).scope")
            XCTAssertEqual(name.description, "\(runtime):\(id)")
        }
        // Not a container id: too short, or upper case.
        XCTAssertNil(CgroupName(path: "/system.slice/docker-0123.scope").containerID)
        XCTAssertNil(CgroupName(path: "/system.slice/docker-\(id.uppercased()).scope").containerID)
    }

    func testCgroupfsDriverPaths() {
        let docker = CgroupName(path: "/docker/\(id)")
        XCTAssertEqual(docker.containerID, id)
        XCTAssertEqual(docker.runtime, "docker")
        let pod = CgroupName(path: "/kubepods/burstable/pod3f0c1a2b-4c5d-6e7f-8091-a2b3c4d5e6f7/\(id)")
        XCTAssertEqual(pod.podUID, "3f0c1a2b-4c5d-6e7f-8091-a2b3c4d5e6f7")
        XCTAssertEqual(pod.containerID, id)
        XCTAssertNil(pod.runtime, "the cgroupfs driver does not say which runtime")
    }

    func testKubernetesPodSlices() {
        let name = CgroupName(
            path:
                "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod3f0c1a2b_4c5d_6e7f_8091_a2b3c4d5e6f7.slice/cri-containerd-\(id).scope"
        )
        XCTAssertEqual(name.podUID, "3f0c1a2b-4c5d-6e7f-8091-a2b3c4d5e6f7")
        XCTAssertEqual(name.containerID, id)
        XCTAssertEqual(name.runtime, "containerd")
        XCTAssertNil(CgroupName(path: "/kubepods.slice/kubepods-podnotauid.slice").podUID)
        XCTAssertNil(CgroupName(path: "/kubepods.slice/kubepods-besteffort.slice").podUID)
    }

    /// A cgroup2 mount of a subtree (a container's, or a bind mount) shows its root's
    /// cgroups at its top: paths from the hierarchy's root map to directories below the
    /// mount point, and back, and paths outside the subtree have no directory.
    func testAMountOfASubtreeMapsHierarchyPathsThroughItsRoot() {
        let mountinfo = """
            22 1 0:21 / /proc rw,nosuid - proc proc rw
            35 24 0:30 /kubepods.slice/pod\\040a /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw
            36 24 0:31 / /sys/fs/cgroup/other rw - cgroup2 cgroup2 rw
            """
        let mount = CgroupFiles.mount(inMountinfo: mountinfo)
        XCTAssertEqual(mount, CgroupFiles.Mount(point: "/sys/fs/cgroup", root: "/kubepods.slice/pod a"))
        XCTAssertEqual(mount?.directory(of: "/kubepods.slice/pod a"), "/sys/fs/cgroup")
        XCTAssertEqual(mount?.directory(of: "/kubepods.slice/pod a/app"), "/sys/fs/cgroup/app")
        XCTAssertNil(mount?.directory(of: "/kubepods.slice/pod ab"), "a sibling whose name starts alike")
        XCTAssertNil(mount?.directory(of: "/system.slice"))
        XCTAssertEqual(mount?.hierarchyPath(ofRelative: "/"), "/kubepods.slice/pod a")
        XCTAssertEqual(mount?.hierarchyPath(ofRelative: "/app"), "/kubepods.slice/pod a/app")

        let whole = CgroupFiles.Mount(point: "/sys/fs/cgroup/unified", root: "/")
        XCTAssertEqual(whole.directory(of: "/"), "/sys/fs/cgroup/unified")
        XCTAssertEqual(whole.directory(of: "/a/b"), "/sys/fs/cgroup/unified/a/b")
        XCTAssertEqual(whole.hierarchyPath(ofRelative: "/a"), "/a")
        XCTAssertNil(CgroupFiles.mount(inMountinfo: "22 1 0:21 / /proc rw - proc proc rw"))
    }
}
