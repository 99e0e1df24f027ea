import EBPFKernel

extension EBPFWrapper {
    /// Samples the stacks running on every CPU `frequency` times a second, as bcc's
    /// `profile -F 99` and bpftrace's `profile:hz:99 { @[ustack, kstack, comm] = count(); }`:
    /// each sample is counted in the kernel by the thread's name and its user and kernel
    /// stacks (the idle task's are left out, as bcc's `profile` does).
    ///
    /// ```swift
    /// let profile = try b.profile(frequency: 99, pid: server)
    /// try await Task.sleep(for: .seconds(10))
    /// let stacks = try profile.foldedStacks()                    // [FoldedStack]
    /// print(FoldedStack.foldedText(stacks))                      // bcc's profile -f
    /// try FlameGraph(stacks: stacks).svg.write(to: …)            // flamegraph.pl's SVG
    /// ```
    ///
    /// - Parameters:
    ///   - frequency: Samples per second on each CPU (a CPU-clock perf event); 99, as
    ///     bpftrace's examples, by default.
    ///   - pid: Only this process's samples (all of its threads); every process's when nil.
    /// - Returns: An aggregation keyed by folded stack: read it with
    ///   ``Aggregation/foldedStacks()``; ``Aggregation/stackFailures()`` counts the stacks
    ///   the kernel could not keep. Symbols are read from each process while it runs. At
    ///   most 10,240 distinct stacks are counted (``Aggregation/droppedCount()`` counts the
    ///   samples of others), in a stack table of 16,384 that is kept for the profile's life.
    /// - Throws: ``EBPFError/Code/invalidArgument`` for a frequency that is not positive or
    ///   a bad pid, and the errors of compiling and attaching a perf event program.
    public func profile(frequency: Int = 99, pid: Int32? = nil) throws(EBPFError) -> Aggregation {
        guard frequency > 0 else {
            throw EBPFError(.invalidArgument, "the sampling frequency \(frequency) must be greater than zero")
        }
        if let pid { try Session.checkPID(pid) }
        return try session.aggregate(
            .perfEvent(.software(.cpuClock), sampling: .frequency(UInt64(frequency))), .count,
            by: AggregationKey(kind: .foldedStack), filter: ProbeFilter(processID: pid), options: .default)
    }
}

extension Aggregation {
    /// The counts as folded stacks, outermost frame first, as flamegraph.pl reads them and
    /// ``FlameGraph`` draws them: a profile's (``EBPFWrapper/profile(frequency:pid:)``) start
    /// with the thread's name, then its user frames, then the kernel's marked `_[k]`; a
    /// stack key's (``AggregationKey/userStack``, ``AggregationKey/kernelStack``) are its
    /// frames, outermost first.
    ///
    /// - Throws: ``EBPFError/Code/invalidArgument`` for an aggregation not keyed by a stack,
    ///   and ``EBPFError/Code/closed`` once closed.
    public func foldedStacks() throws(EBPFError) -> [FoldedStack] {
        guard case .stack(_, _, let folded) = program.keyShape else {
            throw EBPFError(
                .invalidArgument,
                "\(self) is not keyed by a stack: folded stacks come from profile(), or an aggregation by .userStack or .kernelStack"
            )
        }
        return try snapshot().map { entry in
            let frames = entry.key?.stringsValue ?? []
            return FoldedStack(frames: folded ? frames : frames.reversed(), count: entry.count)
        }
    }
}
