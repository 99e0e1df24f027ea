internal import CKernelABI

#if canImport(Glibc)
import Glibc
#endif

/// Waiting out the BPF programs running now: what lets user space retire a map (or a part
/// of one) that programs chose before a switch, knowing no program still writes to it.
package enum ProgramQuiescence {
    /// Returns once every BPF program that was running when it was called has returned.
    /// A program's run is one RCU read-side section and `membarrier(MEMBARRIER_CMD_GLOBAL)`
    /// waits for a grace period (a few milliseconds). Where the kernel refuses it
    /// (nohz_full), it sleeps 50 ms instead: far longer than a program runs, but no proof.
    package static func waitForRunningPrograms() {
        do throws(SystemCallFailure) {
            try SystemCall.check("membarrier") { cka_wait_for_running_programs() }
        } catch {
            usleep(50_000)
        }
    }
}
