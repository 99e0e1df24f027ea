// Dropping capabilities in every thread of the process. Linux keeps capabilities, the
// bounding set and no_new_privs per thread, and capset(2) changes only the caller's, so
// each thread must make the calls itself: this interrupts each one with a signal whose
// handler does (as libcap's psx does for Go).
#ifndef EBPF_EXPORTER_CAPABILITIES_H
#define EBPF_EXPORTER_CAPABILITIES_H

#include <stdint.h>

/// Unblocks, in the calling thread, the signal that drops capabilities: call it before the
/// process starts its other threads, which inherit the caller's signal mask (a parent may
/// have started the process with the signal blocked).
int ebpf_exporter_prepare_capability_drop(void);  // 0, or an errno

/// Leaves every thread of the process with only the capabilities in `keep` (bit n is
/// capability n) in its permitted and effective sets, drops the rest from its bounding set
/// and ambient set, and sets no_new_privs, so that nothing regains them, not even through
/// exec. Threads started meanwhile are caught by repeating until every thread has been
/// done. Returns 0, or an errno: EPERM without CAP_SETPCAP, ETIMEDOUT when a thread did not
/// run the handler within `timeout_ms` (it blocks the signal).
int ebpf_exporter_drop_capabilities(uint64_t keep, int timeout_ms);

/// The effective capabilities of thread `tid` of this process (from its status file), or
/// UINT64_MAX if it has gone.
uint64_t ebpf_exporter_effective_capabilities(int tid);

#endif
