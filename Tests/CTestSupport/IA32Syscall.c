#include "CTestSupport.h"

long cts_ia32_getppid(void) {
#if defined(__x86_64__)
    long result;
    // 64 is getppid among the 32-bit syscalls (and semget among the 64-bit ones).
    __asm__ volatile("int $0x80" : "=a"(result) : "a"(64L) : "memory");
    return result;
#else
    return -1;
#endif
}
