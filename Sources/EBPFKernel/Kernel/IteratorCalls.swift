internal import CKernelABI

/// BPF iterators (Linux 5.8): a tracing program loaded for a `bpf_iter_<target>` BTF id,
/// attached through a link, read by creating a run of it and reading that to its end.
package enum IteratorCalls {
    /// The iterator's link for `program`.
    package static func attach(program: borrowing BorrowedDescriptor) throws(SystemCallFailure) -> FileDescriptor {
        FileDescriptor(
            adopting: try SystemCall.check("bpf(BPF_LINK_CREATE iterator)") {
                cka_bpf_link_create(program.rawValue, 0, AttachTypes.traceIterator, 0)
            })
    }

    /// One run of the iterator behind `link`: everything its program wrote.
    package static func run(_ link: borrowing FileDescriptor) throws(SystemCallFailure) -> [UInt8] {
        let run = FileDescriptor(
            adopting: try SystemCall.check("bpf(BPF_ITER_CREATE)") { cka_bpf_iter_create(link.rawValue) })
        return try run.readToEnd()
    }
}
