import Synchronization
#if canImport(Glibc)
import Glibc
#endif
import EBPFKernel
import EBPFProgram

/// What the running kernel can attach, detected from sysfs and tracefs, and which libbcc
/// this process uses.
public enum KernelFeatures {
    /// The release of the libbcc this process loads (`"0.26.0"`), from its library file's
    /// name; nil when libbcc cannot be opened or its file names no release. Releases from
    /// 0.18 on are supported; an older one makes every wrapper's initializer throw.
    public static var libbccVersion: String? { LibBCC.release?.description }

    /// Whether the kernel can attach kprobes and kretprobes.
    ///
    /// A kernel built without `CONFIG_KPROBES` has neither the `kprobe` perf PMU
    /// (`/sys/bus/event_source/devices/kprobe`, kernel 4.17+) nor tracefs's `kprobe_events`.
    /// A kprobe program still compiles and loads there; only attaching fails.
    /// Whether the running kernel's release is at least `major`.`minor` (`uname -r`).
    static func release(atLeast major: Int, _ minor: Int) -> Bool {
        let parts = CacheFiles.kernelRelease().split(separator: ".").prefix(2).map {
            Int($0.prefix { $0.isNumber }) ?? 0
        }
        guard parts.count == 2 else { return true }
        return (parts[0], parts[1]) >= (major, minor)
    }

    public static var supportsKprobes: Bool {
        if SystemFiles.exists("/sys/bus/event_source/devices/kprobe") { return true }
        for root in Tracefs.candidates where SystemFiles.exists(root + "/kprobe_events") {
            return true
        }
        return false
    }

    /// Whether the kernel has BPF ring buffers (`BPF_MAP_TYPE_RINGBUF`, Linux 5.8): one is
    /// created, once per process, and closed.
    public static var supportsRingBuffers: Bool { ringBuffers }

    private static let ringBuffers: Bool = {
        let map = CompiledObject.Map(
            "ebpf_ring_probe", .ringBuffer, keySize: 0, valueSize: 0, entries: max(4096, MemoryMapping.pageSize))
        return (try? BPFObjectCalls.createMap(map)) != nil
    }()

    /// Whether the kernel can attach uprobes (the `uprobe` PMU or tracefs's `uprobe_events`).
    public static var supportsUprobes: Bool {
        if SystemFiles.exists("/sys/bus/event_source/devices/uprobe") { return true }
        for root in Tracefs.candidates where SystemFiles.exists(root + "/uprobe_events") {
            return true
        }
        return false
    }

    /// Checks that the kernel loads tracing programs (fentry, fexit), which need BTF and BPF
    /// trampolines (`CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS`) and may still be refused, by
    /// loading one that does nothing: the first call loads it, later calls give the same
    /// answer. bcc's `BPF.support_kfunc()`.
    ///
    /// - Throws: ``EBPFError/Code/notSupported`` saying what the kernel answered.
    public static func probeFentry() throws(EBPFError) {
        guard let reason = tracingRefusal else { return }
        throw EBPFError(.notSupported, "this kernel refuses tracing programs (fentry, fexit): \(reason)")
    }

    /// Why tracing programs cannot be used here; nil when they can.
    static let tracingRefusal: String? = {
        let btf: BTF
        do {
            btf = try BTF.kernel()
        } catch {
            return
                "the kernel publishes no BTF (/sys/kernel/btf/vmlinux), which fentry and fexit programs are attached by"
        }
        guard let function = ["do_sys_openat2", "vfs_read", "do_nanosleep"].lazy.compactMap(btf.function(named:)).first
        else { return "the kernel's BTF names none of the functions tried (do_sys_openat2, vfs_read)" }
        guard let (errno, kprobesLoad) = BPFObjectCalls.probeTracingSupport(onFunctionID: function.id) else {
            return nil
        }
        let refusal =
            "loading an fentry program on \(function.name) that does nothing failed with \(errno == EPERM ? "EPERM" : "errno \(errno)") (\(String(cString: strerror(errno))))"
        guard kprobesLoad else {
            return refusal + ", as does a kprobe-type one: this process may not load BPF programs"
        }
        let filterFunctions = Tracefs.candidates.map { $0 + "/available_filter_functions" }.first(
            where: SystemFiles.exists)
        let ftrace =
            filterFunctions.map { path in
                (try? SystemFiles.readText(path)) == nil
                    ? "; \(path) is unreadable too (ftrace is closed to this process)" : ""
            } ?? ""
        return refusal + " while a kprobe-type program loads" + ftrace
    }()

    /// Throws the exact reason when the kernel refuses tracing programs.
    static func requireTracingPrograms(for kind: AttachPoint.Kind, function: String) throws(EBPFError) {
        guard let reason = tracingRefusal else { return }
        throw EBPFError(
            .notSupported,
            "cannot attach \(kind) to '\(function)': this kernel refuses tracing programs (\(reason)); attach a kprobe (attachKprobe) or a tracepoint instead"
        )
    }

    /// Whether tc classifiers attach through tcx links (Linux 6.6), rather than rtnetlink.
    static var hasTCX: Bool { release(atLeast: 6, 6) && !rtnetlinkClassifiersForTesting.load(ordering: .relaxed) }

    /// Makes tc classifiers attach through rtnetlink on any kernel (for tests).
    static let rtnetlinkClassifiersForTesting = Atomic<Bool>(false)

    /// Why LSM programs cannot run here; nil when they can.
    static let lsmRefusal: String? = {
        let active = "/sys/kernel/security/lsm"
        if let list = try? SystemFiles.readText(active) {
            let modules = list.trimmingBlanks().split(separator: ",")
            if !modules.contains("bpf") {
                return
                    "the BPF LSM is not active: \(active) lists \(modules.joined(separator: ",")); boot with lsm=\(modules.joined(separator: ",")),bpf"
            }
        }
        guard let btf = try? BTF.kernel() else {
            return "the kernel publishes no BTF (/sys/kernel/btf/vmlinux), which LSM programs are attached by"
        }
        guard let function = btf.function(named: "bpf_lsm_file_open") else {
            return "the kernel's BTF has no bpf_lsm_file_open: it was built without CONFIG_BPF_LSM"
        }
        guard
            let errno = BPFObjectCalls.probeLoad(
                LibBCC.ProgramTypes.lsm, .init(attachType: AttachTypes.lsmMAC, btfID: function.id))
        else { return nil }
        return
            "loading an LSM program on file_open that does nothing failed with \(errno == EPERM ? "EPERM" : "errno \(errno)") (\(String(cString: strerror(errno))))"
    }()

    /// Throws the exact reason when the kernel will not run LSM programs.
    static func requireBPFLSM(hook: String) throws(EBPFError) {
        guard let reason = lsmRefusal else { return }
        throw EBPFError(.notSupported, "cannot attach to LSM hook '\(hook)': \(reason)")
    }
}
