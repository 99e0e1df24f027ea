#define _GNU_SOURCE
#include "capabilities.h"

#include <dirent.h>
#include <errno.h>
#include <linux/capability.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/// What each thread keeps: the request, less what the caller does not have or the kernel
/// does not know (capset would drop those bits, and the thread would never look done).
static uint64_t kept;
/// Whether the bounding set can be emptied: dropping from it needs CAP_SETPCAP.
static int drop_bounding;
/// The first errno a thread's handler met; 0 while none has failed.
static int failure;

static int drop_signal(void) { return SIGRTMAX - 1; }

int ebpf_exporter_prepare_capability_drop(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, drop_signal());
    return pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

/// What each thread runs for itself: the bounding set, the ambient set, no_new_privs, then
/// the permitted and effective sets last, so that a thread whose effective set is `kept` has
/// done everything. Only raw system calls: async-signal-safe, and idempotent.
static int drop_in_this_thread(void) {
    for (int cap = 0; drop_bounding && cap < 64; cap++) {
        // Only what the set still has; PR_CAPBSET_READ fails past the kernel's last one.
        if ((kept & (1ULL << cap)) || syscall(SYS_prctl, PR_CAPBSET_READ, cap, 0, 0, 0) != 1) continue;
        if (syscall(SYS_prctl, PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) return errno;
    }
    if (syscall(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) return errno;
    if (syscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return errno;
    struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof(data));
    data[0].permitted = data[0].effective = (uint32_t)kept;
    data[1].permitted = data[1].effective = (uint32_t)(kept >> 32);
    if (syscall(SYS_capset, &header, data) != 0) return errno;
    return 0;
}

static void handler(int signal) {
    (void)signal;
    int saved = errno;
    int result = drop_in_this_thread();
    int none = 0;
    if (result != 0) __atomic_compare_exchange_n(&failure, &none, result, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    errno = saved;
}

/// Thread `tid`'s effective capabilities into `mask`: 0, ESRCH when the thread has gone, or
/// the errno that kept its status file from being read.
static int effective_capabilities(int tid, uint64_t *mask) {
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/task/%d/status", tid);
    FILE *file = fopen(path, "re");
    if (file == NULL) return errno == ENOENT ? ESRCH : errno;
    char line[256];
    int result = ESRCH;
    while (fgets(line, sizeof(line), file) != NULL) {
        if (strncmp(line, "CapEff:", 7) == 0) {
            *mask = strtoull(line + 7, NULL, 16);
            result = 0;
            break;
        }
    }
    fclose(file);
    return result;
}

static long elapsed_ms(const struct timespec *start) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000;
}

int ebpf_exporter_drop_capabilities(uint64_t keep, int timeout_ms) {
    struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct own[2];
    if (syscall(SYS_capget, &header, own) != 0) return errno;
    uint64_t permitted = own[0].permitted | ((uint64_t)own[1].permitted << 32);
    uint64_t effective = own[0].effective | ((uint64_t)own[1].effective << 32);
    uint64_t known = 0;
    for (int cap = 0; cap < 64 && syscall(SYS_prctl, PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++) known |= 1ULL << cap;
    kept = keep & permitted & known;
    drop_bounding = (effective >> CAP_SETPCAP) & 1;
    failure = 0;

    int signal_number = drop_signal();
    int unblocked = ebpf_exporter_prepare_capability_drop();
    if (unblocked != 0) return unblocked;
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = handler;
    action.sa_flags = SA_RESTART;
    sigemptyset(&action.sa_mask);
    if (sigaction(signal_number, &action, NULL) != 0) return errno;
    int result = drop_in_this_thread();
    pid_t self = (pid_t)syscall(SYS_gettid);
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    long signalled_at = -1000;
    // Until two passes in a row over every thread find each one done: a thread that one not
    // done yet started during a pass, after the pass listed the threads, exists by the next
    // pass's listing. Threads not done are signalled again every 100 ms, not every pass:
    // real-time signals queue.
    for (int clean_passes = 0; result == 0 && clean_passes < 2;) {
        int pending = 0;
        long now = elapsed_ms(&start);
        int signal_now = now - signalled_at >= 100;
        if (signal_now) signalled_at = now;
        DIR *tasks = opendir("/proc/self/task");
        if (tasks == NULL) {
            result = errno;
            break;
        }
        struct dirent *entry;
        while (result == 0 && (entry = readdir(tasks)) != NULL) {
            pid_t tid = (pid_t)atoi(entry->d_name);
            if (tid <= 0 || tid == self) continue;
            uint64_t mask = 0;
            int status = effective_capabilities(tid, &mask);
            if (status == ESRCH || (status == 0 && mask == kept)) continue;
            if (status != 0) {
                result = status;
                break;
            }
            pending = 1;
            if (signal_now) syscall(SYS_tgkill, getpid(), tid, signal_number);
        }
        closedir(tasks);
        int failed = __atomic_load_n(&failure, __ATOMIC_SEQ_CST);
        if (result == 0 && failed != 0) result = failed;
        else if (result == 0 && pending && now > timeout_ms) result = ETIMEDOUT;
        else if (result == 0 && pending) usleep(1000);
        clean_passes = pending ? 0 : clean_passes + 1;
    }
    // The handler stays installed: a signal still queued finds it, and does nothing new.
    return result;
}
