internal import CKernelABI

#if canImport(Glibc)
import Glibc
#endif

/// tc classifiers through rtnetlink, for kernels before tcx (Linux 6.6): a bpf classifier
/// in direct-action mode under the interface's clsact qdisc. Unlike a link, it stays after
/// the process exits, until deleted.
package enum TrafficControlCalls {
    /// Per interface index: whether this process created the clsact qdisc, and how many of
    /// its classifiers are under it. The qdisc is deleted with the last of them when this
    /// process created it and no one else's classifier is under it, and never otherwise.
    private static let qdiscs = Lock<[UInt32: (created: Bool, classifiers: Int)]>([:])

    /// The priorities tried, lowest first, until one is free on the hook.
    private static let priorities: ClosedRange<UInt32> = 1...64

    /// `program` (named `name`) as a direct-action classifier on the ingress or egress of
    /// the interface with index `interfaceIndex`, the clsact qdisc added first if missing,
    /// at the first free priority from 1: ahead of classifiers at later priorities, which
    /// its verdict (in direct-action mode) then skips.
    package static func attachClassifier(
        program: borrowing BorrowedDescriptor, name: String, interfaceIndex: UInt32, egress: Bool
    ) throws(SystemCallFailure) -> LibBCC.Hook {
        let interface = Int32(bitPattern: interfaceIndex)
        let programNumber = program.rawValue
        return try qdiscs.withLock { (qdiscs) throws(SystemCallFailure) -> LibBCC.Hook in
            var entry = qdiscs[interfaceIndex] ?? (created: false, classifiers: 0)
            if entry.classifiers == 0 {
                do throws(SystemCallFailure) {
                    try SystemCall.check("rtnetlink(RTM_NEWQDISC clsact)") { cka_tc_clsact(interface, 1) }
                    entry.created = true
                } catch  where error.errno == EEXIST {
                    // Someone's: left alone.
                    entry.created = false
                }
            }
            var taken = SystemCallFailure(call: "rtnetlink(RTM_NEWTFILTER bpf)", errno: EEXIST)
            for priority in priorities {
                do throws(SystemCallFailure) {
                    try SystemCall.check("rtnetlink(RTM_NEWTFILTER bpf)") {
                        cka_tc_filter(interface, egress ? 1 : 0, priority, programNumber, name, 1)
                    }
                    entry.classifiers += 1
                    qdiscs[interfaceIndex] = entry
                    return LibBCC.Hook(classifier: interfaceIndex, egress: egress, priority: priority)
                } catch  where error.errno == EEXIST || error.errno == EINVAL {
                    // Taken: by a bpf classifier (EEXIST), or another kind or protocol (EINVAL,
                    // also what a program the kernel refuses gets: the last answer is thrown).
                    taken = error
                    continue
                } catch {
                    if entry.classifiers == 0, entry.created { deleteQdiscIfUnused(interface) }
                    throw error
                }
            }
            if entry.classifiers == 0, entry.created { deleteQdiscIfUnused(interface) }
            throw taken
        }
    }

    /// Deletes a classifier ``attachClassifier(program:name:interfaceIndex:egress:)`` added,
    /// and the clsact qdisc with the last one when this process created it and no one
    /// else's classifier is under it.
    static func detachClassifier(interfaceIndex: UInt32, egress: Bool, priority: UInt32) {
        let interface = Int32(bitPattern: interfaceIndex)
        qdiscs.withLock { qdiscs in
            _ = cka_tc_filter(interface, egress ? 1 : 0, priority, -1, "", 0)
            guard var entry = qdiscs[interfaceIndex] else { return }
            entry.classifiers -= 1
            if entry.classifiers > 0 {
                qdiscs[interfaceIndex] = entry
                return
            }
            qdiscs[interfaceIndex] = nil
            if entry.created { deleteQdiscIfUnused(interface) }
        }
    }

    /// Deletes the clsact qdisc of `interface` unless a classifier is under it (someone
    /// else's, added since this process created it).
    private static func deleteQdiscIfUnused(_ interface: Int32) {
        guard cka_tc_filter_count(interface, 0) == 0, cka_tc_filter_count(interface, 1) == 0 else { return }
        _ = cka_tc_clsact(interface, 0)
    }
}
