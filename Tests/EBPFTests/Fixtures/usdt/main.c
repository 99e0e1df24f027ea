// The USDT fixture of the tests: prints "ready <pid>", then on each SIGUSR1 fires its
// probes once with values derived from the round number and prints
// "fired <round> semaphore <value of the gated probe's semaphore>"; exits on SIGTERM.
//   ebpftest:plain  (int round, long long round * -1000, const char *word), no semaphore
//   ebpftest:gated  (int round, int round * 7), fires only while its semaphore is raised
//   ebpftest:kinds  (int round, -5, round * 5, round * {3, 5, 7, 11}[round % 4]): kinds.c
#include <signal.h>
#include <stdio.h>
#include <sys/sdt.h>
#include <unistd.h>

extern unsigned short ebpftest_gated_semaphore;
void fire_gated(int round);
void fire_kinds(int round);

int main(void) {
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGUSR1);
    sigaddset(&signals, SIGTERM);
    sigprocmask(SIG_BLOCK, &signals, NULL);
    printf("ready %d\n", (int)getpid());
    fflush(stdout);
    for (int round = 1;; round++) {
        int received = 0;
        sigwait(&signals, &received);
        if (received == SIGTERM) return 0;
        const char *word = round % 2 ? "odd" : "even";
        DTRACE_PROBE3(ebpftest, plain, round, (long long)round * -1000, word);
        fire_gated(round);
        fire_kinds(round);
        printf("fired %d semaphore %u\n", round, (unsigned)ebpftest_gated_semaphore);
        fflush(stdout);
    }
}
