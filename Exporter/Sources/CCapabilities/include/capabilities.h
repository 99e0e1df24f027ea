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
/// capability n) that the caller has and the kernel knows, in its permitted and effective
/// sets; empties its ambient set and, with CAP_SETPCAP, its bounding set of the rest; and
/// sets no_new_privs, so that nothing regains them, not even through exec. Threads started
/// meanwhile are caught by repeating until every thread has been done. Returns 0, or an
/// errno: the one a thread's prctl(2) or capset(2) failed with, or ETIMEDOUT when a thread
/// did not run the handler within `timeout_ms` (it blocks the signal).
int ebpf_exporter_drop_capabilities(uint64_t keep, int timeout_ms);

#endif
