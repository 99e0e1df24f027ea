import EBPF
import Foundation
import XCTest

/// The exporter as users run it: the built `ebpf-exporter` serving a configuration, scraped
/// by a real Prometheus server (Debian's `prometheus`), whose HTTP API the tests query.
final class PrometheusTests: XCTestCase {
    /// A child process with a known name opens a known path N times and makes M reads that
    /// each block a known time; Prometheus returns exactly N for the path (an aggregation)
    /// and for the name (a table of a program of the test's own), M in the latency bucket
    /// the blocking time puts them in, and M one-byte reads in a linear histogram's first
    /// step.
    func testPrometheusReturnsTheExactCountAndHistogramBucketOfWhatAChildDid() async throws {
        try KernelTestGate.requireRootAndPrometheus()
        let comm = "exptest\(getpid() % 100_000)"
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("exporter-\(UUID().uuidString)").path
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data("x".utf8)))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let exporter = try ExporterProcess(
            configuration: """
                metrics:
                  - name: test_openat_total
                    count: syscall:openat
                    by: filename
                    filter: { comm: \(comm) }
                  - name: test_read_latency_seconds
                    latency: read
                    by: comm
                    filter: { comm: \(comm) }
                  - name: test_read_size_bytes
                    histogram: syscall:read
                    field: count
                    linear: { min: 0, max: 8, step: 2 }
                    by: comm
                    filter: { comm: \(comm) }
                programs:
                  - text: |
                      struct key { char comm[16]; };
                      BPF_HASH(opens, struct key, u64);
                      int count_opens(void *ctx) {
                          struct key key = {};
                          bpf_get_current_comm(&key.comm, sizeof(key.comm));
                          opens.increment(key);
                          return 0;
                      }
                    attach:
                      - tracepoint: syscalls:sys_enter_openat
                        function: count_opens
                    tables:
                      - table: opens
                        name: test_native_openat_total
                """)
        let prometheus = try await PrometheusServer(scraping: exporter.address, every: "1s")
        defer {
            prometheus.stop()
            XCTAssertEqual(exporter.stop(), 0, "SIGTERM ends it gracefully")
        }

        let (opens, reads, milliseconds) = (37, 5, 40)
        let child = try Subprocess(
            "/usr/bin/python3", ["-c", Self.workload, comm, path, "\(opens)", "\(reads)", "\(milliseconds)"])
        XCTAssertEqual(child.wait(), 0, child.collectedOutput)
        let measured = child.collectedOutput.split(separator: "\n").compactMap { Double($0) }
        XCTAssertEqual(measured.count, reads, child.collectedOutput)

        let opened = try await prometheus.waitForValue("test_openat_total{filename=\"\(path)\"}", Double(opens))
        XCTAssertEqual(opened, Double(opens))
        // The native table's key is a struct; its field names the label.
        let native = try await prometheus.waitForValue("test_native_openat_total{comm=\"\(comm)\"}", Double(opens))
        XCTAssertEqual(native, Double(opens), "the child opened nothing else once named")
        let count = try await prometheus.waitForValue(
            "test_read_latency_seconds_count{comm=\"\(comm)\"}", Double(reads))
        XCTAssertEqual(count, Double(reads))
        // Each read blocked for at least the writer's sleep, which began once the read had
        // (less a millisecond's margin), and at most what the child measured around it: the
        // slots between.
        func slot(_ nanoseconds: Double) -> Int { 64 - UInt64(nanoseconds).leadingZeroBitCount }
        func bound(_ slot: Int) -> String { (Double((UInt64(1) << UInt64(slot)) - 1) / 1e9).description }
        let lowest = slot(Double(milliseconds - 1) * 1e6)
        let highest = slot((measured.max() ?? 0) * 1e9)
        let below = try await prometheus.latest(
            "test_read_latency_seconds_bucket{comm=\"\(comm)\",le=\"\(bound(lowest - 1))\"}")
        let within = try await prometheus.latest(
            "test_read_latency_seconds_bucket{comm=\"\(comm)\",le=\"\(bound(highest))\"}")
        XCTAssertEqual(below, 0, "no read was shorter than \(milliseconds - 1) ms")
        XCTAssertEqual(within, Double(reads), "every read is at or below le=\(bound(highest)): \(measured)")
        // Each read asked for one byte: the linear histogram's first step, 0 to 1.
        let sizes = try await prometheus.waitForValue("test_read_size_bytes_count{comm=\"\(comm)\"}", Double(reads))
        XCTAssertEqual(sizes, Double(reads))
        let firstStep = try await prometheus.latest("test_read_size_bytes_bucket{comm=\"\(comm)\",le=\"1\"}")
        XCTAssertEqual(firstStep, Double(reads))
        let belowZero = try await prometheus.latest("test_read_size_bytes_bucket{comm=\"\(comm)\",le=\"-1\"}")
        XCTAssertEqual(belowZero, 0)
        let bytes = try await prometheus.latest("test_read_size_bytes_sum{comm=\"\(comm)\"}")
        XCTAssertEqual(bytes, Double(reads))
        let sum = try await prometheus.latest("test_read_latency_seconds_sum{comm=\"\(comm)\"}")
        XCTAssertGreaterThanOrEqual(sum ?? 0, Double(reads * (milliseconds - 1)) / 1000)
        XCTAssertLessThanOrEqual(sum ?? .infinity, measured.reduce(0, +))
    }

    /// Labels decoded as ebpf_exporter's decoders do, scraped as a fleet would: over TLS (a
    /// certificate authority the test makes) with basic authentication (a bcrypt hash
    /// `htpasswd` wrote). A child in a cgroup the test makes, once named, fails N opens with
    /// ENOENT, calls getppid M times and sleeps K times; Prometheus returns exactly N under
    /// `ret="ENOENT"`, M under `id="getppid"` (the other syscalls dropped by a regexp), M
    /// under the cgroup's path, and K under the kernel symbol of the timer each sleep arms
    /// (`hrtimer_wakeup`).
    func testPrometheusScrapesOverTLSWithBasicAuthAndReturnsExactCountsUnderDecodedLabels() async throws {
        try KernelTestGate.requireRootAndPrometheus()
        let comm = "expdec\(getpid() % 100_000)"
        let mount = try Cgroup.mountPoint()
        let cgroup = "/ebpf-exporter-test-\(getpid())"
        XCTAssertEqual(mkdir(mount + cgroup, 0o755), 0, "the test's cgroup")
        defer { rmdir(mount + cgroup) }
        let go = FileManager.default.temporaryDirectory.appendingPathComponent("exporter-go-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: go) }
        let credentials = try TestCredentials()
        defer { credentials.remove() }
        let exporter = try ExporterProcess(
            configuration: """
                metrics:
                  - name: test_open_errors_total
                    count: syscall_exit:openat
                    by: ret
                    decoders: [errno]
                    filter: { comm: \(comm) }
                  - name: test_syscalls_total
                    count: tracepoint:raw_syscalls:sys_enter
                    by: id
                    decoders:
                      - name: syscall
                      - name: regexp
                        regexps: ["getppid"]
                    filter: { comm: \(comm) }
                  - name: test_cgroup_calls_total
                    count: syscall:getppid
                    by: cgroup
                    decoders: [cgroup]
                    filter: { cgroup: \(cgroup) }
                  - name: test_timers_total
                    count: tracepoint:timer:hrtimer_start
                    by: function
                    decoders: [ksym]
                    filter: { comm: \(comm) }
                """, arguments: ["--web.config.file", try credentials.webConfiguration()])
        let prometheus = try await PrometheusServer(
            scraping: exporter.address, every: "1s", credentials: credentials)
        defer {
            prometheus.stop()
            XCTAssertEqual(exporter.stop(), 0, "SIGTERM ends it gracefully")
        }

        let (opens, calls, sleeps) = (7, 23, 11)
        let child = try Subprocess(
            "/usr/bin/python3", ["-c", Self.decoderWorkload, comm, go, "\(opens)", "\(calls)", "\(sleeps)"])
        XCTAssertTrue(child.waitForOutput("READY", timeout: .seconds(60)), child.collectedOutput)
        let procs = try FileHandle(forWritingTo: URL(fileURLWithPath: mount + cgroup + "/cgroup.procs"))
        try procs.write(contentsOf: Data("\(child.pid)\n".utf8))
        try procs.close()
        XCTAssertTrue(FileManager.default.createFile(atPath: go, contents: nil))
        XCTAssertEqual(child.wait(), 0, child.collectedOutput)

        let errors = try await prometheus.waitForValue("test_open_errors_total{ret=\"ENOENT\"}", Double(opens))
        XCTAssertEqual(errors, Double(opens))
        let syscalls = try await prometheus.waitForValue("test_syscalls_total{id=\"getppid\"}", Double(calls))
        XCTAssertEqual(syscalls, Double(calls))
        let series = try await prometheus.query("count(last_over_time(test_syscalls_total[10m]))")
        XCTAssertEqual(series, 1, "every other syscall dropped by the regexp")
        let inCgroup = try await prometheus.waitForValue(
            "test_cgroup_calls_total{cgroup=\"\(cgroup)\"}", Double(calls))
        XCTAssertEqual(inCgroup, Double(calls))
        let timers = try await prometheus.waitForValue(
            "test_timers_total{function=\"hrtimer_wakeup\"}", Double(sleeps))
        XCTAssertEqual(timers, Double(sleeps))
    }

    /// Run by python3 -c: says READY, waits for the go file, names itself, fails N opens,
    /// calls getppid M times and sleeps a millisecond K times.
    static let decoderWorkload = """
        import ctypes, os, sys, time
        name, go, opens, calls, sleeps = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
        libc = ctypes.CDLL(None)
        print("READY", flush=True)
        while not os.path.exists(go):
            time.sleep(0.001)
        libc.prctl(15, name.encode(), 0, 0, 0)
        for _ in range(opens):
            try:
                os.open("/nonexistent/ebpf-exporter-decoders", os.O_RDONLY)
            except FileNotFoundError:
                pass
        for _ in range(calls):
            os.getppid()
        for _ in range(sleeps):
            time.sleep(0.001)
        """

    /// Run by python3 -c: names itself (prctl PR_SET_NAME), opens the path N times, then
    /// reads a pipe M times, a thread writing a byte each time once the read has blocked and
    /// it has slept; prints each read's duration in seconds. The reader's syscall file is
    /// opened before the name is set, so the named process opens nothing but the path.
    static let workload = """
        import ctypes, os, sys, threading, time
        name, path, opens, reads, ms = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
        r, w = os.pipe()
        reader_syscall = os.open(f"/proc/self/task/{threading.get_native_id()}/syscall", os.O_RDONLY)
        ctypes.CDLL(None).prctl(15, name.encode(), 0, 0, 0)
        for _ in range(opens):
            os.close(os.open(path, os.O_RDONLY))
        go = threading.Semaphore(0)
        def blocked_in_read():
            # "<nr> <fd> <buffer> <count> ...": read(r, _, 1), not the GIL's futex.
            fields = os.pread(reader_syscall, 256, 0).split()
            return len(fields) > 3 and fields[1] == hex(r).encode() and fields[3] == b"0x1"
        def writer():
            for _ in range(reads):
                go.acquire()
                while not blocked_in_read():
                    time.sleep(0.001)
                time.sleep(ms / 1000)
                os.write(w, b"x")
        threading.Thread(target=writer).start()
        durations = []
        for _ in range(reads):
            go.release()
            start = time.monotonic()
            os.read(r, 1)
            durations.append(time.monotonic() - start)
        print("\\n".join(str(d) for d in durations))
        """
}
