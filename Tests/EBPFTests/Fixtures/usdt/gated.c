// The fixture's probe with a semaphore: <sys/sdt.h> gives every probe of a file compiled
// with _SDT_HAS_SEMAPHORES a semaphore, so it lives in a file of its own.
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>

unsigned short ebpftest_gated_semaphore __attribute__((section(".probes")));

void fire_gated(int round) {
    if (ebpftest_gated_semaphore) DTRACE_PROBE2(ebpftest, gated, round, round * 7);
}
