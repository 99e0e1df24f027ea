@_spi(Generator) @testable import EBPF
import Foundation
import Synchronization
import XCTest
@testable import EBPFKernel

/// Tables (BPF maps) on the real kernel, filled by programs the tests drive.
final class TableTests: XCTestCase {
    func program(_ text: String) throws -> EBPFWrapper<CProgram> {
        try EBPFWrapper(text: text, cflags: ["-DTARGET_PID=\(ThisProcess.pid)", "-DTARGET_TID=\(ThisProcess.tid)"])
    }

    static let counter = """
        BPF_HASH(counts, u32, u64);
        TRACEPOINT_PROBE(syscalls, sys_enter_getppid) {
            u32 pid = bpf_get_current_pid_tgid() >> 32;
            if (pid != TARGET_PID) return 0;
            counts.increment(pid);
            return 0;
        }
        """

    func attachGetppid(_ b: EBPFWrapper<CProgram>) throws {
        try b.attachTracepoint(tp: "syscalls:sys_enter_getppid", fnName: "tracepoint__syscalls__sys_enter_getppid")
    }

    func attachDup2(_ b: EBPFWrapper<CProgram>) throws {
        try b.attachTracepoint(tp: "syscalls:sys_enter_dup2", fnName: "tracepoint__syscalls__sys_enter_dup2")
    }

    /// dup2 with an invalid old descriptor fails with EBADF and touches nothing; the probe
    /// still sees both arguments.
    func failingDup2(_ newfd: Int32) {
        XCTAssertEqual(dup2(1_000_000, newfd), -1)
    }

    func testHashCountsAreExactForOurProcess() throws {
        try requireKernel()
        let b = try program(Self.counter)
        defer { b.close() }
        try attachGetppid(b)
        for _ in 0..<7 { _ = getppid() }

        let counts = try b.table("counts", key: UInt32.self, value: UInt64.self)
        let pid = UInt32(ThisProcess.pid)
        XCTAssertEqual(try counts[pid], 7)
        XCTAssertEqual(try counts.count(), 1)
        XCTAssertEqual(try counts.snapshot().map(\.key), [pid])

        let untyped = try b.table("counts")
        XCTAssertEqual(untyped.type, .hash)
        let items = try untyped.items()
        XCTAssertEqual(items.count, 1)
        XCTAssertEqual(items.first?.key.intValue, Int(pid))
        XCTAssertEqual(items.first?.value.intValue, 7)
        XCTAssertEqual(try untyped.lookup(pid)?.intValue, 7)

        try counts.updateValue(100, forKey: pid)
        _ = getppid()
        XCTAssertEqual(try counts[pid], 101, "the kernel increments what user space stored")
        XCTAssertEqual(try counts.removeValue(forKey: pid), 101)
        XCTAssertNil(try counts[pid])
        XCTAssertNil(try counts.removeValue(forKey: pid))
        _ = getppid()
        XCTAssertEqual(try counts[pid], 1)
        try counts.removeAll()
        XCTAssertEqual(try counts.count(), 0)
        XCTAssertEqual(try counts.updateValue(5, forKey: 42), nil)
        XCTAssertEqual(try counts.updateValue(6, forKey: 42), 5)
        XCTAssertEqual(try untyped.delete(UInt32(42)), true)
        XCTAssertEqual(try untyped.delete(UInt32(42)), false)
    }

    func testTakeItemsReadsAndDeletesInOneBatch() throws {
        try requireKernel()
        let b = try program(Self.counter)
        defer { b.close() }
        try attachGetppid(b)
        for _ in 0..<3 { _ = getppid() }
        let counts = try b.table("counts")
        let taken = try counts.takeItems()
        XCTAssertEqual(taken.map { $0.value.intValue }, [3])
        XCTAssertEqual(try counts.count(), 0)
        _ = getppid()
        XCTAssertEqual(try counts.takeItems().map { $0.value.intValue }, [1], "nothing counted twice")
    }

    /// A hash of 2M entries of 128 bytes holding 3,000: reading and deleting it costs memory
    /// for what is in it, not (key + value) × max_entries up front (272 MiB here; for a
    /// per-CPU map, times the CPUs: 16 GiB for a 1M-entry map on a 256-CPU host).
    func testTakeItemsReadsABigSparseMapInBoundedChunks() throws {
        try requireKernel()
        let b = try program(
            """
            struct big { u64 words[16]; };
            BPF_F_TABLE("hash", u64, struct big, sparse, 1 << 21, BPF_F_NO_PREALLOC);
            """)
        defer { b.close() }
        let sparse = try b.table("sparse")
        XCTAssertEqual(sparse.maxEntries, 1 << 21)
        for key in 0..<UInt64(3000) {
            try sparse.update(key: key, value: Big(first: key * 7))
        }
        ProcessMemory.resetPeak()
        let before = ProcessMemory.residentKiB()
        let taken = try sparse.takeItems()
        let growthKiB = ProcessMemory.peakKiB() - before
        print("RELIABILITY takeItems of 3,000 entries from a 2M-entry map: peak growth \(growthKiB) KiB")
        XCTAssertLessThan(growthKiB, 32 * 1024, "memory for the entries present, not for max_entries")
        XCTAssertEqual(
            Dictionary(
                uniqueKeysWithValues: taken.map {
                    ($0.key.uint64Value ?? .max, $0.value.words?.arrayValue?.first?.uint64Value)
                }),
            Dictionary(uniqueKeysWithValues: (0..<UInt64(3000)).map { ($0, $0 * 7) }))
        XCTAssertEqual(try sparse.count(), 0, "every entry deleted")
    }

    /// `struct big` of the test above: its first word set, the rest zero.
    struct Big {
        var words: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
        var more: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
        init(first: UInt64) { words.0 = first }
    }

    func testArraysAndPerCPUArrays() throws {
        try requireKernel()
        let b = try program(
            """
            BPF_ARRAY(last, u64, 4);
            BPF_PERCPU_ARRAY(hits, u64, 1);
            TRACEPOINT_PROBE(syscalls, sys_enter_dup2) {
                if ((bpf_get_current_pid_tgid() >> 32) != TARGET_PID) return 0;
                int index = args->newfd & 3;
                u64 value = args->newfd;
                last.update(&index, &value);
                int zero = 0;
                hits.increment(zero);
                return 0;
            }
            """)
        defer { b.close() }
        try attachDup2(b)
        for newfd: Int32 in [400, 401, 402, 1001] { failingDup2(newfd) }

        let last = try b.table("last", key: UInt32.self, value: UInt64.self)
        XCTAssertEqual(try last.snapshot().map(\.value), [400, 1001, 402, 0])
        XCTAssertEqual(try last.count(), 4)
        let untyped = try b.table("last")
        XCTAssertEqual(try untyped.items().map { $0.key.intValue }, [0, 1, 2, 3])
        XCTAssertThrowsError(try untyped.delete(UInt32(0)))

        let hits = try b.perCPUTable("hits", key: UInt32.self, value: UInt64.self)
        let values = try XCTUnwrap(hits[0])
        XCTAssertEqual(try hits.count(), 1)
        XCTAssertEqual(
            values.count,
            try SystemFiles.parseCPUList(String(contentsOfFile: "/sys/devices/system/cpu/possible", encoding: .utf8))
                .count)
        XCTAssertEqual(try hits.sum(forKey: 0), 4, "four calls, counted on whichever CPUs ran them")
        XCTAssertEqual(try b.table("hits").perCPUItems().first?.value.compactMap(\.intValue).reduce(0, +), 4)

        try untyped.zero()
        XCTAssertEqual(try last.snapshot().map(\.value), [0, 0, 0, 0])
        try last.updateValue(9, forKey: 3)
        XCTAssertEqual(try last.removeValue(forKey: 3), 9, "an array's removeValue returns the element")
        XCTAssertEqual(try last[3], 0, "and zeroes it")
        let before = try XCTUnwrap(hits.updateValue([UInt64](repeating: 0, count: hits.possibleCPUs), forKey: 0))
        XCTAssertEqual(before.reduce(0, +), 4)
        XCTAssertEqual(try hits.sum(forKey: 0), 0)
        XCTAssertThrowsError(try hits.updateValue([1], forKey: 0), "one value per possible CPU")
    }

    func testHistogramBucketsAndBccText() throws {
        try requireKernel()
        let b = try program(
            """
            BPF_HISTOGRAM(dist);
            BPF_HISTOGRAM(lin, int, 16);
            struct section_key { u32 parity; u64 slot; };
            BPF_HISTOGRAM(sections, struct section_key);
            TRACEPOINT_PROBE(syscalls, sys_enter_dup2) {
                if ((bpf_get_current_pid_tgid() >> 32) != TARGET_PID) return 0;
                u64 value = args->newfd;
                dist.increment(bpf_log2l(value));
                lin.increment((int)(value % 16));
                struct section_key key = { .parity = value % 2, .slot = bpf_log2l(value) };
                sections.increment(key);
                return 0;
            }
            """)
        defer { b.close() }
        try attachDup2(b)
        for newfd: Int32 in [1, 5, 6, 1000, 1023] { failingDup2(newfd) }

        let dist = try b.table("dist")
        let histogram = try XCTUnwrap(dist.histograms(scale: .log2).first?.histogram)
        XCTAssertEqual(histogram.counts[1], 1, "1 → slot 1 (0 -> 1)")
        XCTAssertEqual(histogram.counts[3], 2, "5 and 6 → slot 3 (4 -> 7)")
        XCTAssertEqual(histogram.counts[10], 2, "1000 and 1023 → slot 10 (512 -> 1023)")
        XCTAssertEqual(histogram.counts.reduce(0, +), 5)
        let text = try dist.histogramText(scale: .log2, valueType: "fd")
        XCTAssertTrue(
            text.contains("         4 -> 7          : 2        |****************************************|"), text)
        XCTAssertTrue(text.hasPrefix("     fd                  : count     distribution"), text)

        let linear = try XCTUnwrap(b.table("lin").histograms(scale: .linear).first?.histogram)
        XCTAssertEqual(linear.counts[1], 1)
        XCTAssertEqual(linear.counts[5], 1)
        XCTAssertEqual(linear.counts[6], 1)
        XCTAssertEqual(linear.counts[8], 1, "1000 % 16")
        XCTAssertEqual(linear.counts[15], 1, "1023 % 16")

        let sections = try b.table("sections").histograms(scale: .log2)
        XCTAssertEqual(sections.map { $0.section?.intValue }, [0, 1])
        XCTAssertEqual(sections[0].histogram.counts[3], 1, "6 is even")
        XCTAssertEqual(sections[0].histogram.counts[10], 1, "1000 is even")
        XCTAssertEqual(sections[1].histogram.counts[3], 1, "5 is odd")
        let sectioned = try b.table("sections").histogramText(scale: .log2, sectionHeader: "parity")
        XCTAssertTrue(sectioned.hasPrefix("\nparity = 0\n"), sectioned)
        XCTAssertTrue(sectioned.contains("\nparity = 1\n"), sectioned)
    }

    func testStackTraceResolvesThroughTheSyscallPath() throws {
        try requireKernel()
        let b = try program(
            """
            #include <asm/unistd_64.h>
            // Separate tables: two stacks hashing to one bucket would make the second
            // get_stackid fail with -EEXIST.
            BPF_STACK_TRACE(stacks, 64);
            BPF_STACK_TRACE(user_stacks, 64);
            BPF_ARRAY(ids, int, 2);
            // raw_syscalls, not syscalls:sys_enter_getppid: on 6.1 a syscalls:* tracepoint
            // hands the stack walker the user's registers, and get_stackid(args, 0) fails
            // with -EFAULT (bcc Python's too); 6.18 walks it.
            TRACEPOINT_PROBE(raw_syscalls, sys_enter) {
                if ((u32)bpf_get_current_pid_tgid() != TARGET_TID || args->id != __NR_getppid) return 0;
                int kernel = stacks.get_stackid(args, 0);
                int user = user_stacks.get_stackid(args, BPF_F_USER_STACK);
                int zero = 0, one = 1;
                ids.update(&zero, &kernel);
                ids.update(&one, &user);
                return 0;
            }
            """)
        defer { b.close() }
        try b.attachTracepoint(tp: "raw_syscalls:sys_enter", fnName: "tracepoint__raw_syscalls__sys_enter")
        _ = getppid()

        let ids = try b.table("ids", key: UInt32.self, value: Int32.self)
        let stacks = try b.table("stacks")
        let kernelStack = try stacks.stack(id: Int(try XCTUnwrap(ids[0])))
        XCTAssertFalse(kernelStack.isEmpty)
        let kernelSymbols = kernelStack.map { b.symbols.ksym($0) }
        XCTAssertTrue(kernelSymbols.contains("do_syscall_64"), "\(kernelSymbols)")
        let entry = try XCTUnwrap(b.symbols.ksymname("do_syscall_64"))
        XCTAssertEqual(b.symbols.ksym(entry), "do_syscall_64")
        XCTAssertEqual(b.symbols.ksym(entry, showOffset: true), "do_syscall_64+0x0")
        XCTAssertNil(b.symbols.ksymname("no_such_kernel_symbol_xyz"))

        let userID = try XCTUnwrap(ids[1])
        let userStack = try b.table("user_stacks").stack(id: Int(userID))
        let innermost = try XCTUnwrap(userStack.first, "user stack id \(userID)")
        let symbol = b.symbols.sym(innermost, pid: ThisProcess.pid, showModule: true)
        XCTAssertTrue(symbol.hasPrefix("getppid"), symbol)
        XCTAssertTrue(symbol.contains("libc"), symbol)
        XCTAssertEqual(try stacks.stack(id: -14), [], "a failed get_stackid (-EFAULT) has no frames")
    }

    func testSymbolOfAFunctionInThisProcess() throws {
        try requireKernel()
        let b = try EBPFWrapper()
        defer { b.close() }
        let marker = UInt64(
            UInt(bitPattern: unsafeBitCast(ebpfTestMarker as @convention(c) () -> Int32, to: UnsafeRawPointer.self)))
        XCTAssertEqual(b.symbols.sym(marker, pid: ThisProcess.pid), "ebpf_test_marker")
        XCTAssertEqual(b.symbols.sym(marker + 1, pid: ThisProcess.pid, showOffset: true), "ebpf_test_marker+0x1")
        XCTAssertTrue(b.symbols.sym(marker, pid: ThisProcess.pid, showModule: true).hasSuffix(".xctest]"))
        // libc exports getpid under two names at one address; either is right.
        let handle = dlopen(nil, RTLD_NOW)
        defer { if let handle { dlclose(handle) } }
        let getpidAddress = UInt64(UInt(bitPattern: try XCTUnwrap(dlsym(handle, "getpid"))))
        XCTAssertTrue(["getpid", "__getpid"].contains(b.symbols.sym(getpidAddress, pid: ThisProcess.pid)))
        XCTAssertEqual(b.symbols.sym(1, pid: ThisProcess.pid), "[unknown]")
    }

    func testStructKeysDecodeByNameQueuesAndTries() throws {
        try requireKernel()
        let b = try program(
            """
            struct key_t { u32 pid; char comm[16]; u64 calls_seen; };
            BPF_HASH(by_comm, struct key_t, u64);
            BPF_QUEUE(queue, u64, 8);
            struct lpm_key { u32 prefixlen; u32 addr; };
            BPF_LPM_TRIE(trie, struct lpm_key, u64, 16);
            TRACEPOINT_PROBE(syscalls, sys_enter_getppid) {
                if ((bpf_get_current_pid_tgid() >> 32) != TARGET_PID) return 0;
                struct key_t key = { .pid = TARGET_PID, .calls_seen = 9 };
                bpf_get_current_comm(&key.comm, sizeof(key.comm));
                by_comm.increment(key);
                u64 stamp = bpf_ktime_get_ns();
                queue.push(&stamp, 0);
                return 0;
            }
            """)
        defer { b.close() }
        try attachGetppid(b)
        for _ in 0..<3 { _ = getppid() }

        let entry = try XCTUnwrap(b.table("by_comm").items().first)
        XCTAssertEqual(entry.key.pid?.intValue, Int(ThisProcess.pid))
        XCTAssertEqual(entry.key.comm?.stringValue, ThisProcess.comm)
        XCTAssertEqual(entry.key.calls_seen?.intValue, 9)
        XCTAssertEqual(entry.key.fields.map(\.name), ["pid", "comm", "calls_seen"], "libbcc's padding is hidden")
        XCTAssertEqual(entry.value.intValue, 3)

        let queue = try b.table("queue")
        let first = try XCTUnwrap(queue.peek()?.uint64Value)
        let popped = try (0..<3).compactMap { _ in try queue.pop()?.uint64Value }
        XCTAssertEqual(popped.first, first)
        XCTAssertEqual(popped, popped.sorted(), "first in, first out")
        XCTAssertEqual(popped.count, 3)
        XCTAssertNil(try queue.pop())
        try queue.push(UInt64(77))
        XCTAssertEqual(try queue.pop()?.intValue, 77)

        struct LPMKey: BitwiseCopyable {
            var prefixLength: UInt32
            var address: UInt32
        }
        let trie = try b.table("trie", key: LPMKey.self, value: UInt64.self)
        let network = UInt32(bigEndian: 0x0A00_0000)  // 10.0.0.0
        try trie.updateValue(8, forKey: LPMKey(prefixLength: 8, address: network))
        try trie.updateValue(24, forKey: LPMKey(prefixLength: 24, address: network))
        XCTAssertEqual(
            try trie[LPMKey(prefixLength: 32, address: UInt32(bigEndian: 0x0A00_0005))], 24,
            "10.0.0.5 matches /24 first")
        XCTAssertEqual(
            try trie[LPMKey(prefixLength: 32, address: UInt32(bigEndian: 0x0A01_0005))], 8, "10.1.0.5 matches /8")
        XCTAssertNil(try trie[LPMKey(prefixLength: 32, address: UInt32(bigEndian: 0x0B00_0001))])
    }

    func testWrongTypesAndNamesThrow() throws {
        try requireKernel()
        // BPF_TABLE: libbcc 0.18 has no BPF_PERCPU_HASH (0.19 added it).
        let b = try program(Self.counter + "\nBPF_TABLE(\"percpu_hash\", u32, u64, per_cpu, 10240);")
        defer { b.close() }
        XCTAssertThrowsError(try b.table("counts", key: UInt64.self, value: UInt64.self)) { error in
            let error = error as! EBPFError
            XCTAssertEqual(error.code, .decodingFailed)
            XCTAssertTrue(error.message.contains("4 bytes"), error.message)
        }
        XCTAssertThrowsError(try b.table("counts", key: UInt32.self, value: UInt8.self))
        XCTAssertThrowsError(try b.table("per_cpu", key: UInt32.self, value: UInt64.self)) { error in
            XCTAssertTrue((error as! EBPFError).message.contains("perCPUTable"))
        }
        XCTAssertThrowsError(try b.perCPUTable("counts", key: UInt32.self, value: UInt64.self))
        XCTAssertThrowsError(try b.table("no_such_table")) { error in
            XCTAssertEqual((error as! EBPFError).code, .tableNotFound)
        }
        XCTAssertThrowsError(try b.table("counts").lookup(UInt64(1))) { error in
            XCTAssertEqual((error as! EBPFError).code, .invalidArgument)
        }
        XCTAssertThrowsError(try b.table("counts").stack(id: 1))
        XCTAssertThrowsError(try b.table("counts").pop())
    }

    /// A C `bool` of 2 or an enum value Swift does not know, loaded as `Bool` or as a Swift
    /// enum, is undefined behaviour: typed views and buffers refuse such types when opened,
    /// naming the field and what to declare instead.
    func testTypedViewsRefuseTypesWithInvalidBitPatterns() throws {
        try requireKernel()
        let b = try program(Self.counter + "\nBPF_PERF_OUTPUT(flags);")
        defer { b.close() }
        struct Flagged {
            var seen: Bool
            var padding: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0, 0, 0)
        }
        enum Level: UInt64 { case low, high }
        for (open, field) in [
            ({ _ = try b.table("counts", key: UInt32.self, value: Flagged.self) }, "Flagged's field seen, is a Bool"),
            ({ _ = try b.table("counts", key: UInt32.self, value: Level.self) }, "Level, is a Level"),
            ({ _ = try b.table("counts", key: UInt32.self, value: Int32?.self) }, "is a Optional<Int32>"),
            (
                { _ = try b.table("flags").openPerfBuffer(as: Flagged.self) { _ in } },
                "buffer 'flags', Flagged's field seen"
            ),
        ] as [(() throws -> Void, String)] {
            XCTAssertThrowsError(try open()) { error in
                let error = error as! EBPFError
                XCTAssertEqual(error.code, .decodingFailed)
                XCTAssertTrue(error.message.contains(field), error.message)
                XCTAssertTrue(error.message.contains("declare it as an integer"), error.message)
            }
        }
        struct Plain { var seen: UInt8 }
        let opened = try b.table("flags").openPerfBuffer(as: Plain.self) { _ in }
        XCTAssertEqual(opened.table, "flags", "the refused open left nothing behind to block this one")
        _ = try b.table("counts", key: UInt32.self, value: InlineArray<2, UInt32>.self)
        _ = try b.table("counts", key: (UInt16, UInt16).self, value: SIMD2<Float>.self)
    }

    /// A per-CPU hash read and emptied in one pass.
    func testPerCPUTakeSnapshotReadsAndDeletes() throws {
        try requireKernel()
        let b = try program(
            "BPF_TABLE(\"percpu_hash\", u32, u64, per_cpu, 64);\nBPF_PERCPU_ARRAY(per_cpu_array, u64, 1);")
        defer { b.close() }
        let perCPU = try b.perCPUTable("per_cpu", key: UInt32.self, value: UInt64.self)
        let values = { (key: UInt32) in (0..<perCPU.possibleCPUs).map { UInt64(key) * 10 + UInt64($0) } }
        for key in UInt32(1)...3 { try perCPU.updateValue(values(key), forKey: key) }
        let taken = try perCPU.takeSnapshot().sorted { $0.key < $1.key }
        XCTAssertEqual(taken.map(\.key), [1, 2, 3])
        XCTAssertEqual(taken.map(\.value), (1...3).map(values))
        XCTAssertEqual(try perCPU.count(), 0)
        XCTAssertThrowsError(try b.table("per_cpu").takeItems()) { error in
            XCTAssertTrue((error as! EBPFError).message.contains("takeSnapshot()"), "\(error)")
        }
        XCTAssertThrowsError(
            try b.perCPUTable("per_cpu_array", key: UInt32.self, value: UInt64.self).takeSnapshot(),
            "an array's entries cannot be deleted")
    }

    /// Per-CPU values whose sum does not fit the value type: an error that says so, not a
    /// crash (it trapped before).
    func testPerCPUSumTooLargeForItsTypeThrows() throws {
        try requireKernel()
        let b = try program("BPF_PERCPU_ARRAY(narrow, u8, 1);")
        defer { b.close() }
        let narrow = try b.perCPUTable("narrow", key: UInt32.self, value: UInt8.self)
        try narrow.updateValue([UInt8](repeating: 200, count: narrow.possibleCPUs), forKey: 0)
        if narrow.possibleCPUs == 1 {
            XCTAssertEqual(try narrow.sum(forKey: 0), 200)
        } else {
            XCTAssertThrowsError(try narrow.sum(forKey: 0)) { error in
                XCTAssertEqual((error as! EBPFError).code, .decodingFailed)
                XCTAssertTrue((error as! EBPFError).message.contains("more than UInt8 holds"), "\(error)")
            }
        }
    }

    func testIterationWhileTheKernelWrites() throws {
        try requireKernel()
        let b = try program(
            """
            BPF_HASH(per_thread, u32, u64, 1024);
            TRACEPOINT_PROBE(syscalls, sys_enter_getppid) {
                u64 id = bpf_get_current_pid_tgid();
                if ((id >> 32) != TARGET_PID) return 0;
                u32 tid = id;
                per_thread.increment(tid);
                return 0;
            }
            """)
        defer { b.close() }
        try attachGetppid(b)
        let table = try b.table("per_thread", key: UInt32.self, value: UInt64.self)
        let untyped = try b.table("per_thread")
        let calls = Collected<(UInt32, UInt64)>()
        /// A writer thread's calls so far, and its end.
        final class Writer: Sendable {
            let made = Atomic<UInt64>(0)
            let done = DispatchSemaphore(value: 0)
        }
        final class Flag: Sendable { let isSet = Atomic<Bool>(false) }
        // The writers call getppid() until the reader has done its reads, however long the
        // machine takes to run them.
        let stop = Flag()
        let writers = (0..<2).map { _ in Writer() }
        for writer in writers {
            Thread {
                var made: UInt64 = 0
                while !stop.isSet.load(ordering: .relaxed) {
                    _ = getppid()
                    made += 1
                    writer.made.store(made, ordering: .releasing)
                }
                calls.append((UInt32(ThisProcess.tid), made))
                writer.done.signal()
            }.start()
        }
        // Each read waits for new calls of both writers: the kernel wrote between every two.
        let wanted = 20
        var reads = 0
        var seen = writers.map { _ in UInt64(0) }
        let deadline = ContinuousClock.now + .seconds(60)
        do {
            defer { stop.isSet.store(true, ordering: .relaxed) }  // Also when a read throws.
            while reads < wanted, ContinuousClock.now < deadline {
                let now = writers.map { $0.made.load(ordering: .acquiring) }
                guard zip(now, seen).allSatisfy({ $0 > $1 }) else {
                    sched_yield()
                    continue
                }
                seen = now
                _ = try table.snapshot()
                _ = try untyped.items()
                reads += 1
            }
        }
        for writer in writers {
            XCTAssertEqual(writer.done.wait(timeout: .now() + 60), .success, "the writer stops")
        }
        XCTAssertEqual(reads, wanted, "reads, each after new calls of both writers")
        XCTAssertEqual(calls.count, 2)
        for (tid, made) in calls.all {
            XCTAssertEqual(try table[tid], made, "every call of thread \(tid) counted")
        }
    }
}

/// A function with a name of its own in this test binary's symbol table.
@_cdecl("ebpf_test_marker")
func ebpfTestMarker() -> Int32 { 42 }
