internal import CBCC

#if canImport(Glibc)
import Glibc
#endif

/// Descriptors owned together and closed together, when the group goes: a kept program's
/// maps, an attach's perf events. Like ``FileDescriptor``, it cannot be copied.
struct DescriptorGroup: ~Copyable, Sendable {
    /// How a member is closed.
    enum Kind: Sendable {
        /// `close(2)`.
        case file
        /// A perf event: disabled, then closed (libbcc's `bpf_close_perf_event_fd`), so it
        /// stops firing before its descriptor goes.
        case perfEvent
    }

    private let kind: Kind
    /// The members, in the order they came: read by this target's calls that take numbers
    /// (a kept program's map references).
    private(set) var numbers: [Int32] = []

    init(_ kind: Kind) {
        self.kind = kind
    }

    /// Takes ownership of `descriptor`.
    mutating func append(_ descriptor: consuming FileDescriptor) {
        numbers.append(descriptor.release())
    }

    /// Takes ownership of `number`, a descriptor a libbcc call just returned.
    mutating func adopt(_ number: Int32) {
        numbers.append(number)
    }

    /// Closes every member now.
    consuming func close() {}

    deinit {
        for number in numbers {
            switch kind {
            case .file: _ = Glibc.close(number)
            case .perfEvent: _ = LibBCC.runtime.bpf_close_perf_event_fd!(number)
            }
        }
    }
}
