import EBPF
import XCTest

@testable import EBPFExporter

/// The YAML configuration: what it reads, and each kind of mistake named at its line.
final class ConfigurationTests: XCTestCase {
    func testAFileOfEveryKindOfMetricReadsAsWritten() throws {
        let configuration = try ExporterConfiguration(
            yaml: """
                listen: 127.0.0.1:9999
                metrics:
                  - name: opens_total
                    help: opens by name
                    count: syscall:openat
                    by: comm
                    filter: { comm: cat, uid: 0 }
                  - name: read_bytes
                    histogram: tracepoint:syscalls:sys_enter_read
                    field: count
                    linear: { min: 0, max: 4096, step: 512 }
                    max_keys: 100
                  - name: read_seconds
                    latency: read
                    by: pid
                  - name: written_total
                    sum: syscall:write
                    field: count
                    by: fd
                programs:
                  - text: "BPF_HASH(opens, u32, u64);"
                    attach:
                      - tracepoint: syscalls:sys_enter_openat
                        function: count_opens
                      - uprobe: /usr/bin/bash:readline
                        function: on_readline
                      - at: kretprobe:vfs_read?maxactive=8
                        function: on_read_return
                    tables:
                      - table: opens
                        name: native_opens_total
                        labels: [uid]
                      - table: sizes
                        name: native_sizes
                        type: histogram
                """, file: "test.yaml")
        XCTAssertEqual(configuration.listen, "127.0.0.1:9999")
        let metrics = configuration.aggregations
        XCTAssertEqual(metrics.map(\.name), ["opens_total", "read_bytes", "read_seconds", "written_total"])
        XCTAssertEqual(
            metrics.map(\.measure),
            [
                .count, .histogram(field: "count", buckets: .linear(min: 0, max: 4096, step: 512)),
                .latency, .sum(field: "count"),
            ])
        XCTAssertEqual(
            metrics.map(\.point.description),
            ["syscall:openat", "tracepoint:syscalls:sys_enter_read", "syscall:read", "syscall:write"])
        XCTAssertEqual(metrics.map(\.key), [.processName, nil, .processID, .field("fd")])
        XCTAssertEqual(metrics[0].filter, ProbeFilter(userID: 0, processName: "cat"))
        XCTAssertEqual(metrics[0].help, "opens by name")
        XCTAssertEqual(metrics[1].help, "histogram of tracepoint:syscalls:sys_enter_read")
        XCTAssertEqual(metrics[1].options.maxKeys, 100)
        let program = try XCTUnwrap(configuration.programs.first)
        XCTAssertEqual(program.origin, "test.yaml:21")
        XCTAssertEqual(
            program.attachments,
            [
                NativeAttachment(point: .tracepoint("syscalls:sys_enter_openat"), function: "count_opens"),
                NativeAttachment(point: .uprobe("readline", in: "/usr/bin/bash"), function: "on_readline"),
                NativeAttachment(point: .kretprobe("vfs_read", maxActive: 8), function: "on_read_return"),
            ])
        XCTAssertEqual(
            program.tables,
            [
                TableMetric(
                    table: "opens", name: "native_opens_total", help: "table opens", kind: .counter, labels: ["uid"]),
                TableMetric(
                    table: "sizes", name: "native_sizes", help: "table sizes", kind: .log2Histogram, labels: []),
            ])
    }

    func testEachMistakeIsNamedAtItsLineAndColumn() {
        let cases: [(yaml: String, expected: String)] = [
            (
                "metrics:\n  - name: a\n    count: syscall:openat\n    by: comm\n    colour: red\n",
                "c.yaml:5:5: unknown key 'colour' in a metric; expected name, help, count, sum, histogram, latency, field, linear, by, decoders, filter, max_keys or string_size"
            ),
            (
                "metrics:\n  - name: a\n    latency: tracepoint:sched:sched_switch\n",
                "c.yaml:3:14: a latency runs from an entry to its return (latency: read, kprobe:vfs_read, uprobe:/srv/app:Server.handle); 'tracepoint:sched:sched_switch' has none"
            ),
            (
                "metrics:\n  - name: a\n    count: syscall:openat\n    by: ustack\n",
                "c.yaml:4:9: 'by: ustack' cannot label a metric: a user stack's names go when its process exits, so its series would not last; use 'kstack', or ebpf-trace --count-by ustack"
            ),
            (
                "metrics:\n  - name: a\n    help: no event\n",
                "c.yaml:2:5: metric 'a' needs exactly one of count, sum, histogram or latency, naming its event"
            ),
            (
                "metrics:\n  - name: 9lives\n    count: syscall:openat\n",
                "c.yaml:2:11: '9lives' is not a Prometheus metric name: use letters, digits, '_' and ':', not starting with a digit"
            ),
            (
                "metrics:\n  - name: a\n    count: syscall:openat\n  - name: a\n    count: syscall:read\n",
                "c.yaml:4:11: metric 'a' is defined twice"
            ),
            (
                "metrics:\n  - name: a\n    count: probe:openat\n",
                "c.yaml:3:12: \"probe:openat\" is not an attach point: 'probe' is not a kind of attach point; write KIND:…, the kinds being tracepoint, syscall, syscall_exit, rawtracepoint, kprobe, kretprobe, fentry, fexit, uprobe, uretprobe, usdt, software, hardware, perf, profile, watchpoint, lsm, xdp, tc and cgroup"
            ),
            (
                "metrics:\n  - name: a\n    histogram: syscall:read\n",
                "c.yaml:2:5: metric 'a' (histogram) needs 'field': the integer field it measures"
            ),
            (
                "metrics:\n  - name: a\n    count: syscall:read\n    filter: { pid: lots }\n",
                "c.yaml:4:20: pid must be an integer, not 'lots'"
            ),
            (
                "metrics:\n  - name: a\n    count: syscall:read\n    by: le\n",
                "c.yaml:4:9: 'le' is not a label name: use letters, digits and '_', not starting with a digit or '__', and not 'le'"
            ),
            (
                "metrics:\n  - name: a\n    count: [syscall:read\n",
                "c.yaml:4:1: is not valid YAML: while parsing a flow sequence at line 3: did not find expected ',' or ']'"
            ),
            (
                "metrics:\n  - name: a\n    histogram: syscall:read\n    field: count\n    linear: { min: 0, max: 10, step: 3 }\n",
                "c.yaml:5:13: linear buckets from 0 to 10 by 3: max - min must be a multiple of step, so that every bucket is step wide"
            ),
            (
                "metrics:\n  - name: a\n    count: syscall:read\n    linear: { min: 0, max: 10, step: 1 }\n",
                "c.yaml:4:13: 'linear' sets a histogram's buckets; metric 'a' is a count"
            ),
            (
                "metrics:\n  - name: a\n    count: syscall:read\n    name: b\n",
                "c.yaml:2:5: the mapping starting here gives 'name' twice"
            ),
            (
                "metrics:\n  - name: a\n    count: syscall:read\n    by: fd\n    decoders: [hex]\n",
                "c.yaml:5:16: unknown decoder 'hex'; expected ksym, syscall, errno, cgroup, cgroup_unit, inet_ip, static_map or regexp"
            ),
            (
                "metrics:\n  - name: a\n    count: syscall:read\n    by: fd\n    decoders:\n      - name: regexp\n        regexps: ['(']\n",
                "c.yaml:7:19: '(' is not a regular expression: expected ')'"
            ),
            (
                "metrics:\n  - name: a\n    count: syscall:read\n    decoders: [errno]\n",
                "c.yaml:4:15: 'decoders' decode the label 'by' names; metric 'a' has no 'by'"
            ),
            (
                "metrics:\n  - name: a\n    count: syscall:read\n    by: fd\n    decoders:\n      - name: static_map\n",
                "c.yaml:6:9: a static_map decoder needs 'static_map': a mapping of values to labels"
            ),
            (
                "metrics:\n  - name: a\n    count: syscall:read\n    filter: { cgroup_descendants: maybe }\n",
                "c.yaml:4:35: cgroup_descendants is true or false"
            ),
            ("metrics: {}\n", "c.yaml:1:10: metrics must be a list (lines starting with '- ')"),
            ("", "c.yaml: is empty; it needs 'metrics' or 'programs'"),
            (
                "programs:\n  - text: x\n    attach:\n      - uprobe: readline\n        function: f\n    tables: []\n",
                "c.yaml:4:17: \"uprobe:readline\" is not an attach point: a uprobe is uprobe:BINARY:FUNCTION, e.g. uprobe:/usr/bin/bash:readline or uprobe:/srv/app:Server.handle(request:)"
            ),
            (
                "programs:\n  - text: x\n    attach: []\n    tables:\n      - table: t\n        name: m\n        type: summary\n",
                "c.yaml:7:15: unknown type 'summary'; expected counter, gauge or histogram"
            ),
            (
                "programs:\n  - source: no-such-file.c\n    attach: []\n    tables: []\n",
                "c.yaml:2:13: cannot read the program's source 'no-such-file.c': no such file"
            ),
        ]
        for (yaml, expected) in cases {
            XCTAssertThrowsError(try ExporterConfiguration(yaml: yaml, file: "c.yaml"), yaml) { error in
                XCTAssertEqual((error as? ConfigurationError)?.description, expected, yaml)
            }
        }
    }

    func testDecodersAndCgroupFiltersReadAsWritten() throws {
        let configuration = try ExporterConfiguration(
            yaml: """
                metrics:
                  - name: errors_total
                    count: syscall_exit:openat
                    by: ret
                    decoders: [errno]
                  - name: syscalls_total
                    count: tracepoint:raw_syscalls:sys_enter
                    by: id
                    decoders:
                      - name: syscall
                      - name: regexp
                        regexps: ["open.*", "read"]
                      - name: static_map
                        static_map: { openat: open, read: read }
                    filter: { cgroup: /system.slice/nginx.service, cgroup_descendants: false }
                  - name: by_cgroup_total
                    count: syscall:openat
                    by: cgroup
                    decoders: [cgroup_unit]
                """)
        let (errors, syscalls, cgroups) = (
            configuration.aggregations[0], configuration.aggregations[1], configuration.aggregations[2]
        )
        XCTAssertEqual(errors.decoders, [.errno])
        XCTAssertEqual(
            syscalls.decoders,
            [.syscall, .regexp(["open.*", "read"]), .staticMap(["openat": "open", "read": "read"])])
        XCTAssertEqual(syscalls.filter.cgroup, "/system.slice/nginx.service")
        XCTAssertFalse(syscalls.filter.cgroupDescendants)
        XCTAssertEqual(cgroups.key, .cgroup)
        XCTAssertEqual(cgroups.decoders, [.cgroup(unit: true)])
    }

    func testAMissingFileIsNamed() {
        XCTAssertThrowsError(try ExporterConfiguration(contentsOf: "/nonexistent/exporter.yaml")) { error in
            let error = error as? ConfigurationError
            XCTAssertEqual(error?.file, "/nonexistent/exporter.yaml")
            XCTAssertEqual(error?.line, 0)
            XCTAssertEqual(error?.message, "cannot be read: no such file")
        }
    }
}
