import EBPFKernel
import EBPFProgram

/// The one-entry cgroup array (`BPF_MAP_TYPE_CGROUP_ARRAY`) through which a program filters
/// on a cgroup and the cgroups below it: `bpf_current_task_under_cgroup` (Linux 4.9) asks
/// whether the current task is in the cgroup stored there.
enum CgroupFilterTable {
    static let name = "ebpf_cgroup"
    /// The C that declares it (bcc's `check_current_task` calls the helper).
    static let declaration = "BPF_CGROUP_ARRAY(\(name), 1);"
    /// The same, emitted.
    static let map = CompiledObject.Map(name, .cgroupArray, keySize: 4, valueSize: 4, entries: 1)

    /// Stores `filter`'s cgroup in `module`'s table, where the filter takes descendants:
    /// before any of its programs is attached, which would otherwise admit nothing.
    static func fill(_ module: BPFModule, for filter: ProbeFilter) throws(EBPFError) {
        guard let cgroup = filter.cgroupTest, cgroup.descendants else { return }
        try module.withTable(name) { (map) throws(EBPFError) in
            do throws(SystemCallFailure) {
                try LibBCC.MapCalls.storeCgroup(at: cgroup.directory, in: map, index: 0)
            } catch {
                throw error.error(.systemCallFailed, "could not store cgroup \(cgroup.directory) in the filter's table")
            }
        }
    }
}
