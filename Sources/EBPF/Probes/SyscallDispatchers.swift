import EBPFKernel
import EBPFProgram

/// The dispatchers of one group's routed syscall probes (``SyscallRouting``) while they
/// attach: a direction's dispatcher attaches with its first probe, and each probe is an
/// entry of that direction's program array, which its ``Attachment`` empties on detach.
/// The dispatcher detaches with the last entry.
struct SyscallDispatchers {
    private let module: BPFModule
    private var routes: [Bool: ProgramArrayRoute] = [:]

    init(module: BPFModule) {
        self.module = module
    }

    /// Routes `program`'s syscall to it.
    mutating func attach(_ program: ProbeProgram, at route: SyscallRouting.Route) throws(EBPFError) -> Attachment {
        try attach(program.functionName, at: program.resolved.point, route: route)
    }

    /// Routes the syscall of `point` (a syscall tracepoint) to the function `function`.
    mutating func attach(
        _ function: String, at point: AttachPoint, route: SyscallRouting.Route
    ) throws(EBPFError) -> Attachment {
        let through = try self.route(exit: route.exit)
        let hook = try module.withFunction(function, type: .rawTracepoint) {
            (loaded) throws(EBPFError) -> LibBCC.Hook in
            do throws(SystemCallFailure) {
                return try LibBCC.Hook.route(through, key: UInt32(route.number), program: loaded)
            } catch {
                throw error.error(
                    .attachFailed, "could not route syscall \(route.number) of \(point.eventName) to '\(function)'")
            }
        }
        return Attachment(point: point, functionName: function, hook: hook)
    }

    /// The direction's route, its dispatcher attached the first time.
    private mutating func route(exit: Bool) throws(EBPFError) -> ProgramArrayRoute {
        if let route = routes[exit] { return route }
        let tracepoint = SyscallRouting.rawTracepoint(exit: exit)
        let route = try module.withTable(SyscallRouting.arrayName(exit: exit)) {
            (array) throws(EBPFError) -> ProgramArrayRoute in
            do throws(SystemCallFailure) { return try ProgramArrayRoute(array: array) } catch {
                throw error.error(.attachFailed, "could not open the program array of raw tracepoint \(tracepoint)")
            }
        }
        try module.withFunction(SyscallRouting.dispatcherName(exit: exit), type: .rawTracepoint) {
            (dispatcher) throws(EBPFError) in
            do throws(SystemCallFailure) { try route.attach(dispatcher: dispatcher, rawTracepoint: tracepoint) } catch {
                throw error.error(
                    .attachFailed, "could not attach the syscall dispatcher to raw tracepoint \(tracepoint)")
            }
        }
        routes[exit] = route
        return route
    }
}
