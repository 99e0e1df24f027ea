/// What the running kernel can attach, detected from sysfs and tracefs.
public enum KernelFeatures {
    /// Whether the kernel can attach kprobes and kretprobes.
    ///
    /// A kernel built without `CONFIG_KPROBES` has neither the `kprobe` perf PMU
    /// (`/sys/bus/event_source/devices/kprobe`, kernel 4.17+) nor tracefs's `kprobe_events`.
    /// A kprobe program still compiles and loads there; only attaching fails.
    public static var supportsKprobes: Bool {
        if SystemFiles.exists("/sys/bus/event_source/devices/kprobe") { return true }
        for root in Tracefs.candidates where SystemFiles.exists(root + "/kprobe_events") {
            return true
        }
        return false
    }

    /// Whether the kernel can attach uprobes (the `uprobe` PMU or tracefs's `uprobe_events`).
    public static var supportsUprobes: Bool {
        if SystemFiles.exists("/sys/bus/event_source/devices/uprobe") { return true }
        for root in Tracefs.candidates where SystemFiles.exists(root + "/uprobe_events") {
            return true
        }
        return false
    }
}
