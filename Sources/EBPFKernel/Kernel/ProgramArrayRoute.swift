/// A dispatcher program on a raw tracepoint that tail-calls through a program array
/// (`BPF_MAP_TYPE_PROG_ARRAY`, indexed by what the dispatcher reads, such as the syscall
/// number): each entry routes the dispatcher's events to one program.
///
/// The dispatcher stays attached while any entry's ``LibBCC/Hook`` lives. Leaving the array
/// or closing the raw tracepoint does not wait for a grace period, where closing a perf
/// tracepoint that has a program attached does (about 70 ms each on a 6.18 kernel).
package final class ProgramArrayRoute: Sendable {
    /// The program array, a descriptor of our own (its map belongs to the module).
    private let array: FileDescriptor
    /// The raw tracepoint's descriptor once attached: closing it detaches the dispatcher.
    private let link = Lock<FileDescriptor?>(nil)

    /// A route through `array`, no dispatcher attached yet.
    package init(array: borrowing BorrowedDescriptor) throws(SystemCallFailure) {
        self.array = try FileDescriptor.duplicate(array)
    }

    /// Attaches `dispatcher` to the raw tracepoint `rawTracepoint`, until the route goes.
    package func attach(
        dispatcher: borrowing BorrowedDescriptor, rawTracepoint: String
    ) throws(SystemCallFailure) {
        let number = try SystemCall.check("bpf_attach_raw_tracepoint") {
            LibBCC.runtime.bpf_attach_raw_tracepoint!(dispatcher.rawValue, rawTracepoint)
        }
        link.withLock { $0 = FileDescriptor(adopting: number) }
    }

    /// Routes entry `key` to `program`.
    fileprivate func set(_ key: UInt32, to program: borrowing BorrowedDescriptor) throws(SystemCallFailure) {
        var key = key
        var value = UInt32(bitPattern: program.rawValue)
        _ = try array.lend { (map) throws(SystemCallFailure) in
            try SystemCall.check("bpf_update_elem(program array)") {
                LibBCC.runtime.bpf_update_elem!(map.rawValue, &key, &value, 0)
            }
        }
    }

    /// Empties entry `key`: the dispatcher's next events there run nothing.
    func remove(_ key: UInt32) {
        var key = key
        array.lend { map in _ = try? LibBCC.MapCalls.delete(map: map, key: &key) }
    }
}

extension LibBCC.Hook {
    /// `program` in entry `key` of `route`'s array, until the hook goes.
    package static func route(
        _ route: ProgramArrayRoute, key: UInt32, program: borrowing BorrowedDescriptor
    ) throws(SystemCallFailure) -> LibBCC.Hook {
        try route.set(key, to: program)
        return LibBCC.Hook(route: route, key: key)
    }
}
