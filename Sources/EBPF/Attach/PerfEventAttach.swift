import EBPFKernel
import EBPFProgram

extension Session {

    /// Loads `fnName` from `module` and opens the perf event `point` on each CPU it covers,
    /// running the function; the caller tracks it.
    func makePerfEventAttachment(module: BPFModule, point: AttachPoint, fnName: String) throws(EBPFError)
        -> Attachment
    {
        guard case .perfEvent(let event, let sampling, let pid, let cpu) = point.location else {
            preconditionFailure("\(point) is not a perf event")
        }
        let (period, frequency): (UInt64, UInt64)
        switch sampling {
        case .period(let value): (period, frequency) = (value, 0)
        case .frequency(let value): (period, frequency) = (0, value)
        }
        let cpus: [Int32] = if let cpu { [cpu] } else if pid != nil { [-1] } else { try SystemFiles.onlineCPUs() }
        return try module.withFunction(fnName, type: .perfEvent) { (program) throws(EBPFError) -> Attachment in
            do throws(SystemCallFailure) {
                let hook = try LibBCC.Hook.perfEvents(
                    program: program, type: event.type, config: event.config, samplePeriod: period,
                    sampleFrequency: frequency, pid: pid ?? -1, cpus: cpus)
                return Attachment(point: point, functionName: fnName, hook: hook)
            } catch {
                throw error.error(
                    .attachFailed,
                    "could not open perf event \(event) on CPU \(cpus.count == 1 ? "\(cpus[0])" : "list \(cpus)") for '\(fnName)' (hardware counters are often missing in virtual machines; software events always exist)"
                )
            }
        }
    }
}
