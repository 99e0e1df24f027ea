@_spi(Generator) @testable import EBPF
import Foundation
import XCTest

/// Batch updates and deletes, tail calls through a program array, the redirect maps'
/// helpers, and iterators.
final class MapAndIteratorTests: XCTestCase {
    func testBatchUpdateAndDeleteOf10000Entries() throws {
        try requireKernel()
        let b = try EBPFWrapper(text: "BPF_HASH(big, u32, u64, 10240);")
        defer { b.close() }
        let big = try b.table("big", key: UInt32.self, value: UInt64.self)
        let keys = (0..<10_000).map { UInt32($0) }
        try big.updateValues(keys.map { UInt64($0) * 3 }, forKeys: keys)
        let stored = try big.snapshot()
        XCTAssertEqual(stored.count, 10_000)
        XCTAssertTrue(stored.allSatisfy { $0.value == UInt64($0.key) * 3 })
        try big.removeValues(forKeys: keys.filter { $0 % 2 == 0 })
        XCTAssertEqual(Set(try big.snapshot().map(\.key)), Set(keys.filter { $0 % 2 == 1 }))
        XCTAssertThrowsError(try big.removeValues(forKeys: [1, 2, 3])) { error in
            let error = error as! EBPFError
            XCTAssertEqual(error.code, .notFound, error.message)
            XCTAssertTrue(error.message.hasSuffix("(1 of 3 done)"), error.message)
        }
        XCTAssertEqual(try big[1], nil, "the batch deleted the key before the missing one")
        XCTAssertEqual(try big[3], 9, "the batch stopped at the missing key")
        XCTAssertThrowsError(try big.updateValues([1], forKeys: [1, 2])) {
            XCTAssertEqual(($0 as? EBPFError)?.code, .invalidArgument)
        }
    }

    /// `dispatch` runs on the test thread's getppid calls and tail-calls slot 3: `target`
    /// counts once it is there; before, and after it is removed, the call falls through.
    func testATailCallJumpsIntoTheProgramPlacedInTheArray() throws {
        try requireKernel()
        let b = try EBPFWrapper(
            text: """
                BPF_PROG_ARRAY(jumps, 8);
                BPF_ARRAY(counts, u64, 2);
                int target(void *ctx) {
                    counts.increment(0);
                    return 0;
                }
                int dispatch(void *ctx) {
                    if ((u32)bpf_get_current_pid_tgid() != TID) return 0;
                    jumps.call(ctx, 3);
                    counts.increment(1);
                    return 0;
                }
                """, cflags: ["-DTID=\(ThisProcess.tid)"])
        defer { b.close() }
        let jumps = try ProgramArray(b.table("jumps"))
        XCTAssertEqual([jumps.name, "\(jumps.capacity)"], ["jumps", "8"])
        let counts = try b.table("counts", key: UInt32.self, value: UInt64.self)
        try b.attach(function: "dispatch", to: .tracepoint("syscalls:sys_enter_getppid"))
        for _ in 0..<4 { _ = getppid() }
        try jumps.set(3, to: b.loadFunction("target", type: .tracepoint))
        for _ in 0..<5 { _ = getppid() }
        XCTAssertTrue(try jumps.remove(3))
        for _ in 0..<6 { _ = getppid() }
        XCTAssertEqual(try NetworkProgramTests.values(counts), [5, 10], "5 jumps; 4 + 6 fall-throughs")
        XCTAssertThrowsError(try ProgramArray(b.table("counts"))) {
            XCTAssertEqual(
                ($0 as? EBPFError)?.message,
                "table 'counts' is a array, not a program array: a ProgramArray is a table declared BPF_PROG_ARRAY(name, size)"
            )
        }
    }

    func testRedirectMapsTakeInterfacesCPUsAndSockets() throws {
        try requireKernel()
        let veth = try VethPair()
        defer { veth.close() }
        let b = try EBPFWrapper(
            text: """
                BPF_DEVMAP(ports, 4);
                BPF_CPUMAP(cpus, 4);
                BPF_XSKMAP(sockets, 4);
                """)
        defer { b.close() }
        let ports = try DevMap(b.table("ports"))
        try ports.set(1, interface: veth.hostInterface)
        let index = try XCTUnwrap(NetworkInterfacesIndex.of(veth.hostInterface))
        XCTAssertEqual(try b.table("ports", key: UInt32.self, value: UInt32.self)[1], index)
        XCTAssertThrowsError(try ports.set(2, interface: "ebpf-none")) {
            XCTAssertEqual(($0 as? EBPFError)?.code, .notFound)
        }
        let cpus = try CpuMap(b.table("cpus"))
        try cpus.set(0, queueSize: 192)
        XCTAssertTrue(try cpus.remove(0))
        let sockets = try XskMap(b.table("sockets"))
        // A UDP socket is not an AF_XDP one: the kernel says so.
        let udp = VethPair.udpSocket(address: veth.hostAddress)
        defer { close(udp) }
        XCTAssertThrowsError(try sockets.set(0, socket: udp)) {
            XCTAssertEqual(($0 as? EBPFError)?.errno, EOPNOTSUPP, "\($0)")
        }
        XCTAssertThrowsError(try XskMap(b.table("ports"))) {
            XCTAssertEqual(($0 as? EBPFError)?.code, .invalidArgument)
        }
    }

    /// A task iterator lists the test's own process with its name; a kernel that refuses
    /// tracing programs refuses it with the reason.
    func testATaskIteratorListsTheTestsProcess() throws {
        try requireKernel()
        let b = try EBPFWrapper(
            text: Self.taskIteratorContext + """
                BPF_ITER(task) {
                    struct seq_file *seq = ctx->meta->seq;
                    struct task_struct *task = ctx->task;
                    if (task == (void *)0 || task->pid != task->tgid) return 0;
                    char format[] = "%d %s\\n";
                    u64 values[] = { task->tgid, (u64)task->comm };
                    bpf_seq_printf(seq, format, sizeof(format), values, sizeof(values));
                    return 0;
                }
                """)
        defer { b.close() }
        guard let iterator = try taskIteratorOrTheKernelsRefusal(b) else { return }
        let comm = try String(contentsOfFile: "/proc/self/comm", encoding: .utf8).trimmingCharacters(in: .newlines)
        let lines = try iterator.readText().split(separator: "\n")
        XCTAssertTrue(lines.contains("\(getpid()) \(comm)"), "\(lines.count) tasks, not \(getpid()) \(comm)")
        XCTAssertTrue(
            lines.contains(
                "1 \(try String(contentsOfFile: "/proc/1/comm", encoding: .utf8).trimmingCharacters(in: .newlines))"))
        iterator.close()
        XCTAssertThrowsError(try iterator.read()) { XCTAssertEqual(($0 as? EBPFError)?.code, .closed) }
        XCTAssertThrowsError(try b.iterator(function: "task_walker")) {
            XCTAssertEqual(($0 as? EBPFError)?.code, .invalidArgument)
        }
    }

    /// A task iterator that writes structs is read as records: exactly init's and the test
    /// process's, each with its parent; a Swift struct of another size is refused.
    func testATaskIteratorsRecordsAreReadAsSwiftStructs() throws {
        try requireKernel()
        let b = try EBPFWrapper(
            text: Self.taskIteratorContext + """
                struct record { u32 pid; u32 parent; };
                BPF_ITER(task) {
                    struct task_struct *task = ctx->task;
                    if (task == (void *)0 || task->pid != task->tgid) return 0;
                    if (task->tgid != 1 && task->tgid != \(getpid())) return 0;
                    struct record record = { .pid = task->tgid, .parent = task->real_parent->tgid };
                    bpf_seq_write(ctx->meta->seq, &record, sizeof(record));
                    return 0;
                }
                """)
        defer { b.close() }
        guard let iterator = try taskIteratorOrTheKernelsRefusal(b) else { return }
        struct Record: Equatable { var pid: UInt32, parent: UInt32 }
        XCTAssertEqual(
            try iterator.readRecords(as: Record.self),
            [Record(pid: 1, parent: 0), Record(pid: UInt32(getpid()), parent: UInt32(getppid()))])
        struct Wider { var pid: UInt32, parent: UInt32, more: UInt32 }
        XCTAssertThrowsError(try iterator.readRecords(as: Wider.self)) { error in
            XCTAssertEqual((error as? EBPFError)?.code, .invalidArgument)
            XCTAssertEqual(
                (error as? EBPFError)?.message,
                "the iterator 'bpf_iter__task' wrote 16 bytes, not a whole number of 12-byte Wider records: make the Swift struct's layout match the C struct the program writes"
            )
        }
    }

    /// The task iterator's context, from the kernel's BTF, which kernel headers lack.
    private static let taskIteratorContext = """
        #include <linux/sched.h>
        struct bpf_iter_meta { struct seq_file *seq; u64 session_id; u64 seq_num; };
        struct bpf_iter__task { struct bpf_iter_meta *meta; struct task_struct *task; };

        """

    /// `bpf_iter__task`'s iterator, or nil after checking the exact refusal of a kernel
    /// that refuses tracing programs.
    private func taskIteratorOrTheKernelsRefusal(_ b: EBPFWrapper<CProgram>) throws -> KernelIterator? {
        guard fentryLoads else {
            XCTAssertThrowsError(try b.iterator(function: "bpf_iter__task")) { error in
                let error = error as! EBPFError
                XCTAssertEqual(error.code, .notSupported)
                XCTAssertTrue(
                    error.message.hasPrefix(
                        "cannot open the iterator 'bpf_iter__task': this kernel refuses tracing programs (loading an fentry program on"
                    ), error.message)
            }
            return nil
        }
        return try b.iterator(function: "bpf_iter__task")
    }
}

/// An interface's index, as the test reads it.
enum NetworkInterfacesIndex {
    static func of(_ name: String) -> UInt32? {
        let index = if_nametoindex(name)
        return index == 0 ? nil : index
    }
}
