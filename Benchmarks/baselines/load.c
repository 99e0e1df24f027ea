// The benchmark's load: issues COUNT syscalls from one thread, only after the consumer has
// attached (it waits for a byte on stdin), and reports its own cost per syscall.
//
//   load dup2|access COUNT [PER_SECOND]
//
// dup2(BASE+i, BASE+i) fails fast with EBADF; its probe records a 56-byte event whose oldfd
// carries the sequence number i. access(PATH, i) fails fast with EINVAL; its probe copies
// the 459-character PATH, a 512-byte event whose mode carries i. PER_SECOND paces the calls
// (for the latency check); 0 or absent runs flat out.
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define BASE 1000000

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: load dup2|access COUNT [PER_SECOND]\n");
        return 2;
    }
    int use_access = strcmp(argv[1], "access") == 0;
    long count = atol(argv[2]);
    long per_second = argc > 3 ? atol(argv[3]) : 0;
    static char path[460];
    memset(path, 'p', sizeof(path) - 1);
    path[0] = '/';
    path[sizeof(path) - 1] = 0;

    printf("%d\n", getpid());
    fflush(stdout);
    char go;
    if (read(0, &go, 1) != 1) return 1;

    uint64_t start = now_ns();
    for (long i = 0; i < count; i++) {
        if (use_access) syscall(SYS_access, path, (int)i);
        else syscall(SYS_dup2, BASE + i, BASE + i);
        if (per_second > 0) {
            uint64_t due = start + (uint64_t)(i + 1) * 1000000000ull / (uint64_t)per_second;
            uint64_t t = now_ns();
            if (due > t) {
                struct timespec pause = { (time_t)((due - t) / 1000000000ull), (long)((due - t) % 1000000000ull) };
                nanosleep(&pause, NULL);
            }
        }
    }
    uint64_t end = now_ns();
    printf("ns_per_call=%.1f start_ns=%llu end_ns=%llu\n",
           count > 0 ? (double)(end - start) / (double)count : 0.0,
           (unsigned long long)start, (unsigned long long)end);
    fflush(stdout);
    return 0;
}
