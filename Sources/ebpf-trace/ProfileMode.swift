import EBPF
import CommandLineSupport

#if canImport(Glibc)
import Glibc
#endif

/// `ebpf-trace profile`: samples on-CPU stacks until stopped, then prints them folded
/// (bcc's `profile -f`: `comm;frame;…;frame count`, the input of flame graph tools) and,
/// with `--flame-graph`, draws them as an SVG flame graph.
struct ProfileMode {
    let frequency: Int
    let pid: Int32?
    let duration: Double?
    let flameGraph: String?

    func run() throws {
        let stopSignals = StopSignals.block()
        let wrapper = try EBPFWrapper()
        defer { wrapper.close() }
        let profile = try wrapper.profile(frequency: frequency, pid: pid)
        Example.status(
            "sampling on-CPU stacks at \(frequency) Hz\(pid.map { " of process \($0)" } ?? "")\(duration.map { " for \($0) s" } ?? "; Ctrl-C to stop")"
        )
        _ = stopSignals.wait(seconds: duration)
        profile.detach()
        let stacks = try profile.foldedStacks()
        // Frame names come from traced binaries: each line is escaped before it is printed.
        for line in FoldedStack.foldedText(stacks).split(separator: "\n") { print(String(line).terminalSafe) }
        let failures = try profile.stackFailures()
        if failures.collisions + failures.other > 0 {
            Example.status("stacks not kept: \(failures.collisions) collisions, \(failures.other) other failures")
        }
        guard let flameGraph else { return }
        let title = "CPU profile\(pid.map { " of process \($0)" } ?? ""), \(frequency) Hz"
        let svg = FlameGraph(stacks: stacks, title: title).svg
        guard let file = fopen(flameGraph, "w") else {
            throw EBPFError(.notFound, "could not open \(flameGraph) to write the flame graph")
        }
        defer { fclose(file) }
        guard fputs(svg, file) >= 0 else {
            throw EBPFError(.systemCallFailed, "could not write the flame graph to \(flameGraph)")
        }
        Example.status("wrote a flame graph of \(stacks.reduce(0) { $0 + $1.count }) samples to \(flameGraph)")
    }
}
