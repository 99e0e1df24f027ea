import EBPF

/// The exporter's own programs as metrics: how many it holds, and, while the kernel counts
/// (the exporter's `--bpf-stats`, or the sysctl `kernel.bpf_stats_enabled`), each one's runs
/// and run time, labelled by the kernel's id and the program's name. (ebpf_exporter serves
/// the same counts as `ebpf_exporter_ebpf_program_run_count_total{id}` and
/// `…_run_time_seconds{id}`.)
struct ProgramStatisticsSource: Sendable {
    /// The exporter's own recording; nil when it relies on the sysctl, if anyone set it.
    let recording: ProgramStatistics.Recording?

    func write(into text: inout ExpositionText) {
        let programs = ProgramStatistics.ofThisProcess()
        text.family(
            "ebpf_exporter_programs_attached", help: "BPF programs the exporter holds", type: "gauge")
        text.sample("ebpf_exporter_programs_attached", [], String(programs.count))
        guard recording?.isOpen == true || ProgramStatistics.isEnabledBySysctl else { return }
        let labels = { (program: ProgramStatistics) in [("id", String(program.id)), ("name", program.name)] }
        text.family(
            "ebpf_program_run_count_total",
            help: "Times each BPF program ran while statistics were on (a tail-called program's runs are its caller's)",
            type: "counter")
        for program in programs {
            text.sample("ebpf_program_run_count_total", labels(program), String(program.runCount))
        }
        text.family(
            "ebpf_program_run_time_seconds", help: "Time each BPF program ran while statistics were on",
            type: "counter")
        for program in programs {
            let (seconds, attoseconds) = program.runTime.components
            text.sample(
                "ebpf_program_run_time_seconds", labels(program),
                (Double(seconds) + Double(attoseconds) / 1e18).description)
        }
    }
}
