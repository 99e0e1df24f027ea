import EBPFKernel
import EBPFProgram

/// A BPF iterator: a program the kernel runs over each of its objects of one kind (tasks,
/// their open files, maps, sockets…) when read, writing what it finds with
/// `bpf_seq_printf` or `bpf_seq_write` (Linux 5.8, and a kernel that allows tracing
/// programs). The context's
/// struct (`struct bpf_iter__task`) is the kernel's, from its BTF, which kernel headers
/// lack: the program declares it, as below.
///
/// ```swift
/// let b = try EBPFWrapper(text: """
///     #include <linux/sched.h>
///     struct bpf_iter_meta { struct seq_file *seq; u64 session_id; u64 seq_num; };
///     struct bpf_iter__task { struct bpf_iter_meta *meta; struct task_struct *task; };
///     BPF_ITER(task) {
///         struct task_struct *task = ctx->task;
///         if (task == NULL) return 0;
///         char format[] = "%d %s\\n";
///         u64 values[] = { task->tgid, (u64)task->comm };
///         bpf_seq_printf(ctx->meta->seq, format, sizeof(format), values, sizeof(values));
///         return 0;
///     }
///     """)
/// print(try b.iterator(function: "bpf_iter__task").readText())
/// ```
///
/// A program that writes structs with `bpf_seq_write` is read with ``readRecords(as:)``.
///
/// ``close()`` (or the wrapper's) ends it.
public final class KernelIterator: Sendable, CustomStringConvertible {
    /// The function, `bpf_iter__<target>` as bcc's `BPF_ITER(target)` names it.
    public let functionName: String
    private let link: LentDescriptor

    init(functionName: String, link: consuming FileDescriptor) {
        self.functionName = functionName
        self.link = LentDescriptor(link)
    }

    /// Whether ``close()`` has not been called yet.
    public var isOpen: Bool { link.isOpen }

    /// Runs the iterator over the kernel's objects now: everything its program wrote.
    ///
    /// - Throws: ``EBPFError/Code/closed`` once closed, ``EBPFError/Code/systemCallFailed``
    ///   when the run fails.
    public func read() throws(EBPFError) -> [UInt8] {
        guard let held = link.hold() else {
            throw EBPFError(.closed, "the iterator '\(functionName)' was closed; open it again")
        }
        do throws(SystemCallFailure) {
            return try IteratorCalls.run(held.owned)
        } catch {
            throw error.error(.systemCallFailed, "could not run the iterator '\(functionName)'")
        }
    }

    /// ``read()`` as UTF-8 text.
    public func readText() throws(EBPFError) -> String {
        String(decoding: try read(), as: UTF8.self)
    }

    /// ``read()`` as fixed-size records: what a program writes with
    /// `bpf_seq_write(seq, &record, sizeof(record))`, one `Record` (a Swift struct laid out
    /// as the C one) per object.
    ///
    /// - Throws: ``EBPFError/Code/invalidArgument`` when what the program wrote is not a
    ///   whole number of `Record`s (its C struct and `Record` differ), and the errors of
    ///   ``read()``.
    public func readRecords<Record: BitwiseCopyable>(as _: Record.Type) throws(EBPFError) -> [Record] {
        let bytes = try read()
        // The stride (never 0), as C's sizeof counts a struct's tail padding.
        let size = MemoryLayout<Record>.stride
        guard bytes.count % size == 0 else {
            throw EBPFError(
                .invalidArgument,
                "the iterator '\(functionName)' wrote \(bytes.count) bytes, not a whole number of \(size)-byte \(Record.self) records: make the Swift struct's layout match the C struct the program writes"
            )
        }
        return bytes.withUnsafeBytes { raw in
            (0..<bytes.count / size).map { raw.loadUnaligned(fromByteOffset: $0 * size, as: Record.self) }
        }
    }

    /// Detaches the iterator's program. Idempotent.
    public func close() { link.close() }

    public var description: String { "KernelIterator(\(functionName)\(isOpen ? "" : ", closed"))" }
}

extension EBPFWrapper where Program == CProgram {
    /// The iterator the program's function `function` is: a `BPF_ITER(target)` function,
    /// named `bpf_iter__<target>` (`bpf_iter__task`, `bpf_iter__task_file`,
    /// `bpf_iter__bpf_map`), loaded for the kernel's `bpf_iter_<target>`.
    ///
    /// - Throws: ``EBPFError/Code/invalidArgument`` for a function not so named,
    ///   ``EBPFError/Code/notSupported`` on a kernel that refuses tracing programs (saying
    ///   what it answered), ``EBPFError/Code/notFound`` for a target the kernel lacks, and
    ///   the errors of ``loadFunction(_:type:)``.
    public func iterator(function: String) throws(EBPFError) -> KernelIterator {
        try session.iterator(function: function)
    }
}

extension Session {
    func iterator(function: String) throws(EBPFError) -> KernelIterator {
        try checkOpen()
        try NameValidation.identifier(function, what: "function name")
        let prefix = BTFProgramNaming.iteratorPrefix
        guard function.hasPrefix(prefix), function.count > prefix.count else {
            throw EBPFError(
                .invalidArgument,
                "\(NameValidation.quoted(function)) is not an iterator's function: bcc's BPF_ITER(target) names it \(prefix)TARGET (\(prefix)task)"
            )
        }
        let target = "bpf_iter_" + function.dropFirst(prefix.count)
        if let reason = KernelFeatures.tracingRefusal {
            throw EBPFError(
                .notSupported,
                "cannot open the iterator '\(function)': this kernel refuses tracing programs (\(reason))")
        }
        guard try BTF.kernel().function(named: target) != nil else {
            throw EBPFError(
                .notFound,
                "the kernel has no iterator target '\(function.dropFirst(prefix.count))': its BTF has no \(target) (Linux 5.8 has task, task_file, bpf_map, netlink, ipv6_route; later kernels more)"
            )
        }
        let module = try nativeModule()
        let iterator = try module.withFunction(function, type: .tracing) {
            (program) throws(EBPFError) -> KernelIterator in
            do throws(SystemCallFailure) {
                return KernelIterator(functionName: function, link: try IteratorCalls.attach(program: program))
            } catch {
                throw error.error(.attachFailed, "could not attach the iterator '\(function)'")
            }
        }
        return try track(iterator)
    }
}
