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
}
