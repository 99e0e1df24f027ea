@_spi(Generator) @testable import EBPF
import XCTest

/// The C an aggregation generates, from real format files (Fixtures/formats): keys and
/// values read at the format's offsets, in its types; nothing of a field's name in the C.
final class AggregationProgramTests: XCTestCase {
    private func program(
        _ category: String, _ name: String, by key: AggregationKey?, field: String? = nil,
        options: AggregationOptions = .default
    ) throws -> AggregationProgram {
        try AggregationProgram(
            tracepoint: TracepointFormatTests.format(category, name), by: key, field: field, options: options)
    }

    func testACharArrayKeyAndASignedLongValue() throws {
        let program = try program("sched", "sched_switch", by: .field("prev_comm"), field: "prev_state")
        XCTAssertEqual(program.keyShape, .text(capacity: 16))
        XCTAssertEqual(program.eventName, "sched:sched_switch")
        XCTAssertTrue(program.text.contains("struct ebpf_key { char text[16]; };"))
        XCTAssertTrue(program.text.contains("    bpf_probe_read_kernel(&ebpf_key.text, 16, (char *)ctx + 8);"))
        XCTAssertTrue(program.text.contains("    s64 ebpf_value = (s64)(*(s64 *)((char *)ctx + 32));"))
        XCTAssertFalse(program.text.contains("prev_"), "field names stay out of the C")
        XCTAssertFalse(program.text.contains("ebpf_comm"), "the thread's name is read only when needed")
    }

    func testADataLocationStringKeyAndAUserStringKey() throws {
        let exec = try program("sched", "sched_process_exec", by: .field("filename"))
        XCTAssertEqual(exec.keyShape, .text(capacity: 64))
        XCTAssertTrue(
            exec.text.contains(
                "    bpf_probe_read_kernel_str(&ebpf_key.text, sizeof(ebpf_key.text), (char *)ctx + ((*(u32 *)((char *)ctx + 8)) & 0xFFFF));"
            ), exec.text)
        let openat = try program(
            "syscalls", "sys_enter_openat", by: .field("filename"), options: AggregationOptions(stringSize: 128))
        XCTAssertEqual(openat.keyShape, .text(capacity: 128))
        XCTAssertTrue(
            openat.text.contains(
                "    bpf_probe_read_user_str(&ebpf_key.text, sizeof(ebpf_key.text), (const void *)(long)(*(u64 *)((char *)ctx + 24)));"
            ), openat.text)
    }

    func testIntegerKeysReadTheDeclaredTypeNotTheSlot() throws {
        // Syscall arguments sit in 8-byte slots marked unsigned; `int dfd` is a signed int.
        let openat = try program("syscalls", "sys_enter_openat", by: .field("dfd"))
        XCTAssertEqual(openat.keyShape, .signed)
        XCTAssertTrue(openat.text.contains("    ebpf_key.value = (u64)(s64)(*(s32 *)((char *)ctx + 16));"))
        let byName = try program("syscalls", "sys_enter_openat", by: .processName)
        XCTAssertTrue(byName.text.contains("    __builtin_memcpy(&ebpf_key.text, ebpf_comm, 16);"))
        XCTAssertTrue(byName.text.contains("    bpf_get_current_comm(&ebpf_comm, sizeof(ebpf_comm));"))
        let total = try program("syscalls", "sys_enter_openat", by: nil)
        XCTAssertEqual(total.keyShape, .total)
        XCTAssertFalse(total.text.contains("ebpf_value"), "counting only")
    }

    func testAHistogramKeysBySlotAndALatencyPairsEntryAndExit() throws {
        let format = try TracepointFormatTests.format("syscalls", "sys_enter_openat")
        let histogram = try AggregationProgram(
            resolved: .tracepoint(category: "syscalls", name: "sys_enter_openat"), format: format,
            key: .processName, measure: .histogram(field: "flags", buckets: .log2), filter: ProbeFilter(),
            options: .default)
        XCTAssertTrue(histogram.isHistogram)
        XCTAssertTrue(histogram.text.contains("struct ebpf_key { u64 slot; char text[16]; };"), histogram.text)
        XCTAssertTrue(
            histogram.text.contains("    ebpf_key.slot = ebpf_value < 0 ? 0 : bpf_log2l((u64)ebpf_value);"))
        XCTAssertTrue(
            histogram.text.contains(
                "BPF_TABLE(\"percpu_hash\", struct ebpf_key, struct ebpf_slot, ebpf_aggregate_0, 10240);"))
        let linear = try AggregationProgram(
            resolved: .tracepoint(category: "syscalls", name: "sys_enter_openat"), format: format, key: nil,
            measure: .histogram(field: "flags", buckets: .linear(min: 10, max: 50, step: 10)), filter: ProbeFilter(),
            options: .default)
        XCTAssertTrue(
            linear.text.contains(
                "    ebpf_key.slot = ebpf_value < 10 ? 0 : ebpf_value >= 50 ? 5 : 1 + (u64)(ebpf_value - 10) / 10;"),
            linear.text)

        let latency = try AggregationProgram(
            resolved: .tracepoint(category: "syscalls", name: "sys_enter_openat"), format: format, key: nil,
            measure: .latency(exit: .tracepoint(category: "syscalls", name: "sys_exit_openat")),
            filter: ProbeFilter(processID: 42), options: .default)
        XCTAssertEqual(latency.histogramValueName, "nsecs")
        XCTAssertNil(latency.field)
        let entry = try XCTUnwrap(latency.text.components(separatedBy: "int ebpf_aggregate_probe(").first)
        let exit = try XCTUnwrap(latency.text.components(separatedBy: "int ebpf_aggregate_probe(").last)
        XCTAssertTrue(entry.contains("int ebpf_latency_entry(void *ctx) {"), latency.text)
        XCTAssertTrue(entry.contains("if ((ebpf_id >> 32) != 42) return 0;"), "the filter runs at the entry")
        // Each thread's calls in progress by depth: the entry stores its start at (tid, depth)
        // and goes one deeper; the return comes back up one and reads its own entry's start.
        XCTAssertTrue(entry.contains("    u64 ebpf_call = ((u64)ebpf_tid << 32) | *ebpf_depth;"), latency.text)
        XCTAssertTrue(entry.contains("    ebpf_latency_start.update(&ebpf_call, &ebpf_now);\n    *ebpf_depth += 1;"))
        XCTAssertFalse(exit.contains("!= 42"), "and only there")
        XCTAssertTrue(exit.contains("    if (!ebpf_depth || *ebpf_depth == 0) return 0;"), latency.text)
        XCTAssertTrue(exit.contains("    *ebpf_depth -= 1;"))
        XCTAssertTrue(exit.contains("    s64 ebpf_value = bpf_ktime_get_ns() - *ebpf_start;"))
        XCTAssertTrue(exit.contains("    ebpf_latency_start.delete(&ebpf_call);"))
    }

    func testFieldsThatCannotServeAreRefused() throws {
        let text = """
            name: mac
            ID: 7
            format:
            \tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
            \tfield:u8 addr[6];\toffset:8;\tsize:6;\tsigned:0;
            \tfield:const char * name;\toffset:16;\tsize:8;\tsigned:0;

            print fmt: "%pM", REC->addr
            """
        let format = try TracepointFormat(category: "net", name: "mac", parsing: text)
        XCTAssertThrowsError(try AggregationProgram(tracepoint: format, by: .field("addr"))) { error in
            XCTAssertEqual((error as? EBPFError)?.code, .invalidArgument)
            XCTAssertTrue("\(error)".contains("field 'addr' of net:mac is of type 'u8[6]'"), "\(error)")
        }
        XCTAssertThrowsError(try AggregationProgram(tracepoint: format, field: "name")) { error in
            XCTAssertEqual((error as? EBPFError)?.code, .invalidArgument)
        }
        XCTAssertThrowsError(try AggregationProgram(tracepoint: format, by: .field("x\"; evil()"))) { error in
            XCTAssertEqual((error as? EBPFError)?.code, .notFound)
            XCTAssertTrue("\(error)".contains("its fields: addr, name"), "\(error)")
        }
        XCTAssertThrowsError(try AggregationProgram(tracepoint: format, options: AggregationOptions(maxKeys: 0))) {
            error in XCTAssertEqual((error as? EBPFError)?.code, .invalidArgument)
        }
    }
}
