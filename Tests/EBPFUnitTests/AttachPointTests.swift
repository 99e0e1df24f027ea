@_spi(Generator) @testable import EBPF
import XCTest

/// The attach-point grammar: every kind through text and back, bpftrace's short forms, and
/// each malformed text refused with what it lacks. No kernel needed.
final class AttachPointTests: XCTestCase {
    /// One point of every kind, with each option it takes, and its text.
    static let everyKind: [(AttachPoint, String)] = [
        (.tracepoint("sched:sched_switch"), "tracepoint:sched:sched_switch"),
        (.syscall("openat"), "syscall:openat"),
        (.syscallExit("read"), "syscall_exit:read"),
        (.rawTracepoint("sys_enter"), "rawtracepoint:sys_enter"),
        (.kprobe("tcp_connect"), "kprobe:tcp_connect"),
        (.kprobe("tcp_connect", offset: 16), "kprobe:tcp_connect+16"),
        (.kretprobe("vfs_read"), "kretprobe:vfs_read"),
        (.kretprobe("vfs_read", maxActive: 64), "kretprobe:vfs_read?maxactive=64"),
        (.fentry("do_sys_openat2"), "fentry:do_sys_openat2"),
        (.fexit("do_sys_openat2"), "fexit:do_sys_openat2"),
        (.uprobe("readline", in: "/usr/bin/bash"), "uprobe:/usr/bin/bash:readline"),
        (.uprobe("malloc", in: "c", offset: 4, pid: 42), "uprobe:c:malloc+4?pid=42"),
        (.uretprobe("readline", in: "/usr/bin/bash", pid: 7), "uretprobe:/usr/bin/bash:readline?pid=7"),
        (.usdt("python:function__entry", in: "/usr/bin/python3"), "usdt:/usr/bin/python3:python:function__entry"),
        (.usdt("gc__start", pid: 42), "usdt:*:gc__start?pid=42"),
        (.perfEvent(.software(.cpuClock), sampling: .period(1_000_000)), "software:cpu-clock:1000000"),
        (.perfEvent(.software(.cpuClock), sampling: .frequency(99), cpu: 1), "software:cpu-clock:99hz?cpu=1"),
        (.perfEvent(.hardware(.cacheMisses), sampling: .period(1000), pid: 3), "hardware:cache-misses:1000?pid=3"),
        (.perfEvent(PerfEvent(type: 4, config: 26), sampling: .period(100)), "perf:4:26:100"),
        (.watchpoint(Watchpoint(address: 0x7ffd_2a10, length: 8, access: .write)), "watchpoint:0x7ffd2a10:8:w"),
        (
            .watchpoint(Watchpoint(address: 0x1000, length: 4, access: [.read, .write]), pid: 9),
            "watchpoint:0x1000:4:rw?pid=9"
        ),
        (.lsm("file_open"), "lsm:file_open"),
        (.xdp("eth0"), "xdp:eth0"),
        (.xdp("veth-a.10", mode: .generic), "xdp:veth-a.10?mode=generic"),
        (.trafficControl("eth0", .ingress), "tc:eth0:ingress"),
        (.trafficControl("eth0", .egress), "tc:eth0:egress"),
        (.cgroup("/system.slice/nginx.service", .connect4), "cgroup:connect4:/system.slice/nginx.service"),
        (.cgroup("/", .sockCreate), "cgroup:sock_create:/"),
        (.cgroup("/x", .ingress, mode: .multi), "cgroup:ingress:/x?mode=multi"),
        (.cgroup("/sys/fs/cgroup/a:b", .ingress), "cgroup:ingress:/sys/fs/cgroup/a:b"),
    ]

    func testEveryKindRoundTripsThroughText() throws {
        let kinds = Set(Self.everyKind.map { $0.0.kind.rawValue })
        XCTAssertEqual(kinds.count, 17, "every kind is in the table: \(kinds.sorted())")
        for (point, text) in Self.everyKind {
            XCTAssertEqual(point.description, text)
            XCTAssertEqual(try AttachPoint(parsing: text), point, text)
            XCTAssertEqual(try AttachPoint(parsing: point.description).description, text)
        }
    }

    /// From values whose names hold what the text form uses (colons in paths): printed and
    /// read back equal; what the text cannot hold is refused up front.
    func testPathsWithColonsRoundTripAndWhatTextCannotHoldIsRefused() throws {
        let points: [(AttachPoint, String)] = [
            (.uprobe("f", in: "/opt/a:b/lib.so"), "uprobe:/opt/a:b/lib.so:f"),
            (.uretprobe("f", in: "/a:b", pid: 3), "uretprobe:/a:b:f?pid=3"),
            (.usdt("p:n", in: "/a:b"), "usdt:/a:b:p:n"),
            (.usdt("n", in: "/bin/x"), "usdt:/bin/x:n"),
        ]
        for (point, text) in points {
            XCTAssertEqual(point.description, text)
            XCTAssertEqual(try AttachPoint(parsing: text), point, text)
        }
        let refused: [(AttachPoint, String)] = [
            (.usdt("n", in: "/a:b"), "name USDT probe n's provider (provider:name)"),
            (.uprobe("f", in: "/tmp/a?b"), "is '*' or holds '?'"),
            (.usdt("p:n", in: "*"), "is '*' or holds '?'"),
            (.usdt("a;b", in: "/bin/x"), "the USDT provider or probe name \"a;b\" contains ';'"),
            (.kretprobe("vfs_read", maxActive: 5000), "or up to 4096"),
            (.perfEvent(.software(.cpuClock), sampling: .period(1), cpu: -1), "cpu -1 is not a CPU number"),
        ]
        for (point, expected) in refused {
            let refusal = message { () throws(EBPFError) in
                try point.validate()
                return point
            }
            XCTAssertTrue(refusal?.contains(expected) == true, "\(point): \(refusal ?? "accepted")")
        }
    }

    /// Swift names hold colons and parentheses, patterns `*` and `?`, regular expressions
    /// slashes: each is read whole as the function, after the binary's path.
    func testFunctionsNamedAsPeopleWriteThemRoundTrip() throws {
        let points: [(AttachPoint, String)] = [
            (.uprobe("Server.handle(request:)", in: "/srv/app"), "uprobe:/srv/app:Server.handle(request:)"),
            (
                .uretprobe("MyService.Server.handle(_:with:)", in: "/a:b/app", pid: 9),
                "uretprobe:/a:b/app:MyService.Server.handle(_:with:)?pid=9"
            ),
            (.uprobe("static Server.make()", in: "/srv/app"), "uprobe:/srv/app:static Server.make()"),
            (.uprobe("Server.handle*", in: "/srv/app"), "uprobe:/srv/app:Server.handle*"),
            (.uprobe("handle?", in: "/srv/app", pid: 4), "uprobe:/srv/app:handle??pid=4"),
            (.uprobe("/^Server\\.(get|put)/", in: "/srv/app"), "uprobe:/srv/app:/^Server\\.(get|put)/"),
            (
                .uprobe("$s3App6ServerV6handleyyF", in: "/srv/app", offset: 4),
                "uprobe:/srv/app:$s3App6ServerV6handleyyF+4"
            ),
            // Not a number an offset reads: part of the name (found by the attach-point fuzzer).
            (.uprobe("malloc+0x", in: "c", pid: 42), "uprobe:c:malloc+0x?pid=42"),
            // A name ending like an offset keeps an explicit `+0` (also found by the fuzzer).
            (.uprobe("llAr+0x4", in: "p"), "uprobe:p:llAr+0x4+0"),
        ]
        for (point, text) in points {
            XCTAssertEqual(point.description, text)
            XCTAssertEqual(try AttachPoint(parsing: text), point, text)
            XCTAssertNoThrow(try point.validate(), text)
        }
        XCTAssertEqual(AttachPoint.uprobe("f", in: "/bin/x").returnPoint, .uretprobe("f", in: "/bin/x"))
        XCTAssertEqual(AttachPoint.syscall("read").returnPoint, .syscallExit("read"))
        XCTAssertEqual(AttachPoint.kprobe("vfs_read").returnPoint, .kretprobe("vfs_read"))
        XCTAssertEqual(AttachPoint.fentry("vfs_read").returnPoint, .fexit("vfs_read"))
        XCTAssertNil(AttachPoint.kprobe("vfs_read", offset: 4).returnPoint)
        XCTAssertNil(AttachPoint.tracepoint("sched:sched_switch").returnPoint)
    }

    /// Names that could carry C, a path or a second command are refused before any lookup.
    /// Interface names and cgroup paths holding what the text form uses for options are
    /// refused as values, so every valid point prints as text that reads back.
    func testInterfacesAndCgroupsTheTextCannotHoldAreRefused() {
        for point in [
            AttachPoint.xdp("a?b=c"), .trafficControl("x?y", .ingress), .cgroup("/a?mode=multi", .ingress),
            .xdp("eth0 "), .cgroup("/a\n", .egress), .cgroup("", .egress),
        ] {
            XCTAssertThrowsError(try point.validate(), "\(point)") {
                XCTAssertEqual(($0 as? EBPFError)?.code, .invalidArgument)
            }
        }
        XCTAssertNoThrow(try AttachPoint.cgroup("/a:b/c d", .ingress).validate())
    }

    func testHostileFunctionNamesAreRefused() {
        for hostile in [
            "f\"); system(\"x", "f'", "f\nmain", "../../etc/passwd", "a/b", "f\\", "f`x`", "",
            String(repeating: "a", count: 10_000), "f\u{7f}",
        ] {
            let refusal = message { () throws(EBPFError) in
                let point = AttachPoint.uprobe(hostile, in: "/bin/sh")
                try point.validate()
                return point
            }
            XCTAssertNotNil(refusal, "accepted \(hostile.prefix(40))")
        }
    }

    /// bpftrace's `:cpp` marker is taken off once: a binary whose own name ends in `:cpp`
    /// prints with the marker after it, so that the text reads back as the same point (found by the attach-point fuzzer:
    /// `u:k:k:cpp:cpp:s`).
    func testABinaryNamedLikeTheCppMarkerReadsBackAsItself() throws {
        for text in [
            "u:k:k:cpp:cpp:s", "uprobe:/srv/a:cpp:cpp:\"ns::f\"", "uretprobe:/srv/a:cpp:cpp:f", "u:k::cpp:s",
            "u:k::cpp:cpp:s",
        ] {
            let point = try AttachPoint(parsing: text, shorthands: true)
            XCTAssertEqual(try AttachPoint(parsing: point.description), point, text)
            XCTAssertEqual(try AttachPoint(parsing: point.description).description, point.description, text)
        }
        XCTAssertEqual(try AttachPoint(parsing: "u:k:k:cpp:cpp:s", shorthands: true), .uprobe("s", in: "k:k:cpp"))
        XCTAssertEqual(try AttachPoint(parsing: "uprobe:/srv/a:cpp:\"ns::f\""), .uprobe("ns::f", in: "/srv/a"))
        XCTAssertEqual(AttachPoint.uprobe("s", in: "k:k:cpp").description, "uprobe:k:k:cpp:cpp:s")
        XCTAssertEqual(
            try AttachPoint(parsing: "u:k::cpp:s", shorthands: true), .uprobe("s", in: "k::cpp"),
            "not taken off where it would leave the binary ending in ':'")
    }

    func testBpftraceShortFormsReadAsTheirKinds() throws {
        let forms: [(String, AttachPoint)] = [
            ("t:sched:sched_switch", .tracepoint("sched:sched_switch")),
            ("rt:sys_enter", .rawTracepoint("sys_enter")),
            ("raw_tracepoint:sys_enter", .rawTracepoint("sys_enter")),
            ("k:vfs_read", .kprobe("vfs_read")), ("kr:vfs_read", .kretprobe("vfs_read")),
            ("kprobe:vfs_read+0x10", .kprobe("vfs_read", offset: 16)),
            ("f:vfs_read", .fentry("vfs_read")), ("kfunc:vfs_read", .fentry("vfs_read")),
            ("fr:vfs_read", .fexit("vfs_read")), ("kretfunc:vfs_read", .fexit("vfs_read")),
            ("u:/bin/sh:main", .uprobe("main", in: "/bin/sh")), ("ur:/bin/sh:main", .uretprobe("main", in: "/bin/sh")),
            ("U:/bin/x:p:n", .usdt("p:n", in: "/bin/x")),
            ("s:cs:1", .perfEvent(.software(.contextSwitches), sampling: .period(1))),
            ("h:cycles:100", .perfEvent(.hardware(.cpuCycles), sampling: .period(100))),
            ("profile:hz:99", .perfEvent(.software(.cpuClock), sampling: .frequency(99))),
        ]
        for (text, point) in forms {
            XCTAssertEqual(try AttachPoint(parsing: text), point, text)
        }
    }

    func testShorthandsAreReadOnlyWhenAskedFor() throws {
        XCTAssertEqual(try AttachPoint(parsing: "openat", shorthands: true), .syscall("openat"))
        XCTAssertEqual(
            try AttachPoint(parsing: "sched:sched_switch", shorthands: true), .tracepoint("sched:sched_switch"))
        XCTAssertEqual(try AttachPoint(parsing: "kprobe:vfs_read", shorthands: true), .kprobe("vfs_read"))
        // The xdp and cgroup tracepoint categories are kinds: their tracepoints need the prefix,
        // and print with it.
        XCTAssertEqual(try AttachPoint(parsing: "xdp:eth0", shorthands: true), .xdp("eth0"))
        XCTAssertEqual(
            try AttachPoint(parsing: "tracepoint:xdp:xdp_exception", shorthands: true).eventName,
            "tracepoint:xdp:xdp_exception")
        XCTAssertEqual(
            message { () throws(EBPFError) in try AttachPoint(parsing: "openat") },
            "\"openat\" is not an attach point: it names no kind; write KIND:…, the kinds being tracepoint, syscall, syscall_exit, rawtracepoint, kprobe, kretprobe, fentry, fexit, uprobe, uretprobe, usdt, software, hardware, perf, profile, watchpoint, lsm, xdp, tc and cgroup"
        )
    }

    /// What ``ProbeEvent/eventName`` says: no options, a tracepoint by its shorthand unless its
    /// category is a kind's name.
    func testEventNamesAreTheShortTextWithoutOptions() throws {
        XCTAssertEqual(AttachPoint.tracepoint("syscalls:sys_enter_bind").eventName, "syscalls:sys_enter_bind")
        XCTAssertEqual(AttachPoint.tracepoint("perf:x").eventName, "tracepoint:perf:x")
        XCTAssertEqual(AttachPoint.usdt("p:n", in: "/bin/x", pid: 4).eventName, "usdt:/bin/x:p:n")
        XCTAssertEqual(AttachPoint.kprobe("f", offset: 8).eventName, "kprobe:f+8")
    }

    func testMalformedTextIsRefusedSayingWhat() {
        let cases: [(String, String)] = [
            ("probe:openat", "'probe' is not a kind of attach point; write KIND:…"),
            ("uprobe:/bin/sh", "a uprobe is uprobe:BINARY:FUNCTION, e.g. uprobe:/usr/bin/bash:readline"),
            ("uprobe:/bin/sh:", "a uprobe is uprobe:BINARY:FUNCTION"),
            ("uprobe:/srv/app:f\"x", "contains '\"'"),
            ("usdt:/bin/x", "a USDT probe is usdt:BINARY:PROVIDER:NAME"),
            ("kprobe:vfs_read+ten", "'ten' is not an offset; write function+16 or function+0x10"),
            ("kprobe:vfs_read?pid=3", "a kprobe takes no options, not 'pid'"),
            ("kretprobe:vfs_read?maxactive=lots", "its maxactive 'lots' is not a number"),
            ("uprobe:/bin/sh:main?pid=1,pid=2", "its option 'pid=2' is not name=value, or is given twice"),
            ("software:cpu-clock", "a perf event is KIND:NAME:PERIOD or KIND:NAME:FREQUENCYhz"),
            ("software:no-such:10", "'software:no-such' is not a perf event or '10' not a count"),
            ("software:cpu-clock:0", "the sampling period or frequency must be greater than zero"),
            ("syscall:bind; }", "the syscall name \"bind; }\" contains ';' at offset 4"),
            ("tracepoint:syscalls:../x", "the tracepoint name \"../x\" contains '.' at offset 0"),
            ("tracepoint:nocolon", "is not of the form \"category:name\""),
            ("kprobe:", "the kernel function name is empty"),
            ("uprobe:/a/../b:main", "contains a '..' component"),
            ("usdt:*:p:n", "USDT probe p:n needs a binary, a pid, or both"),
            ("kretprobe:vfs_read+8", "a kretprobe takes no offset"),
            ("uretprobe:/bin/sh:main+4", "a uretprobe takes no offset"),
            ("uprobe:/bin/sh:main?pid=0", "pid 0 is not a process id"),
            ("watchpoint:0x1000:8", "a watchpoint is watchpoint:ADDRESS:LENGTH:MODE"),
            ("watchpoint:0x1000:8:q", "a watchpoint is watchpoint:ADDRESS:LENGTH:MODE"),
            ("watchpoint:0x1001:8:w", "a CPU watches 1, 2, 4 or 8 bytes at an address aligned to that length"),
            ("watchpoint:0x1000:3:w", "a CPU watches 1, 2, 4 or 8 bytes"),
            ("watchpoint:0x1000:8:wx", "watch reads and writes (rw), writes (w), or executions (x) alone"),
            ("watchpoint:0x1000:4:x", "of the 8 bytes at an instruction's address"),
            ("lsm:file_open; }", "the LSM hook name \"file_open; }\" contains ';'"),
            ("xdp:eth0?mode=fast", "its mode 'fast' is not one of auto, generic, driver, offload"),
            ("xdp:../eth0", "is not a network interface name"),
            ("xdp:a-name-longer-than-15", "is not a network interface name"),
            ("tc:eth0", "a tc point is tc:INTERFACE:ingress or tc:INTERFACE:egress"),
            ("tc:eth0:sideways", "a tc point is tc:INTERFACE:ingress"),
            ("cgroup:accept:/x", "a cgroup program's point is cgroup:HOOK:PATH"),
            ("cgroup:connect4:relative", "cgroup path \"relative\" must start with /"),
            ("cgroup:connect4:/a/../b", "must start with / and name a cgroup without '.', '..'"),
            ("lsm:file_open?pid=1", "a lsm takes no options, not 'pid'"),
            ("cgroup:connect4:/x?mode=many", "its mode 'many' is not one of link, multi, override, exclusive"),
        ]
        for (text, expected) in cases {
            let refusal = message { () throws(EBPFError) in try AttachPoint(parsing: text) }
            XCTAssertTrue(refusal?.contains(expected) == true, "\(text): \(refusal ?? "parsed")")
        }
    }

    private func message(_ body: () throws(EBPFError) -> AttachPoint) -> String? {
        do {
            _ = try body()
            return nil
        } catch {
            XCTAssertEqual(error.code, .invalidArgument, error.message)
            return error.message
        }
    }
}
