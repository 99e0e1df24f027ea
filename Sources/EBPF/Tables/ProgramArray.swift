import EBPFKernel

/// A program array (`BPF_PROG_ARRAY`), filled from loaded functions: where the program's
/// tail calls jump (bcc's `array.call(ctx, index)`, `bpf_tail_call`), as bcc's `ProgArray`.
///
/// ```swift
/// let jumps = try ProgramArray(b.table("jumps"))
/// try jumps.set(2, to: b.loadFunction("handle_udp", type: .xdp))
/// ```
///
/// A tail call into an empty slot falls through to the code after it. The functions must be
/// of the calling program's type.
public struct ProgramArray: Sendable {
    let access: MapAccess

    /// The program array `table`.
    ///
    /// - Throws: ``EBPFError/Code/invalidArgument`` when it is another type of table.
    public init(_ table: Table) throws(EBPFError) {
        try table.access.require(.programArray, as: "ProgramArray", declared: "BPF_PROG_ARRAY(name, size)")
        access = table.access
    }

    /// The array's name in the program.
    public var name: String { access.name }
    /// How many slots it has.
    public var capacity: Int { access.maxEntries }

    /// Puts `function` in slot `index`: tail calls to `index` jump to it from now on.
    ///
    /// - Throws: ``EBPFError/Code/closed`` for a closed function,
    ///   ``EBPFError/Code/systemCallFailed`` for a slot past the end or a function of
    ///   another program type (EINVAL).
    public func set(_ index: UInt32, to function: LoadedFunction) throws(EBPFError) {
        try function.withDescriptor { (program) throws(EBPFError) in
            try access.withMap("put '\(function.name)' into") { (map) throws(SystemCallFailure) in
                try LibBCC.MapCalls.store(program, in: map, index: index)
            }
        }
    }

    /// Empties slot `index`: tail calls to it fall through again. False when it was empty.
    @discardableResult
    public func remove(_ index: UInt32) throws(EBPFError) -> Bool {
        try access.delete(MapAccess.bytes(of: index))
    }
}

extension MapAccess {
    /// Throws unless the map is of `type`, for a view named `view` of what C declares so.
    func require(_ type: TableType, as view: String, declared: String) throws(EBPFError) {
        guard self.type == type else {
            throw EBPFError(
                .invalidArgument,
                "table '\(name)' is a \(self.type), not a \(type): a \(view) is a table declared \(declared)")
        }
    }
}
