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

static uint64_t kept;

static int drop_signal(void) { return SIGRTMAX - 1; }

int ebpf_exporter_prepare_capability_drop(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, drop_signal());
    return pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}
static volatile int failures;

/// What each thread runs for itself: the bounding set, the ambient set, the permitted and
/// effective sets, then no_new_privs. Only raw system calls: async-signal-safe.
static int drop_in_this_thread(void) {
    for (int cap = 0; cap < 64; cap++) {
        // Only what the set still has (dropping needs CAP_SETPCAP, gone after a first pass);
        // PR_CAPBSET_READ is -1 (EINVAL) past the kernel's last capability.
        if ((kept & (1ULL << cap)) || syscall(SYS_prctl, PR_CAPBSET_READ, cap, 0, 0, 0) != 1) continue;
        if (syscall(SYS_prctl, PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) return errno;
    }
    if (syscall(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) return errno;
    struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof(data));
    data[0].permitted = data[0].effective = (uint32_t)kept;
    data[1].permitted = data[1].effective = (uint32_t)(kept >> 32);
    if (syscall(SYS_capset, &header, data) != 0) return errno;
    if (syscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return errno;
    return 0;
}

static void handler(int signal) {
    (void)signal;
    int saved = errno;
    if (drop_in_this_thread() != 0) __atomic_add_fetch(&failures, 1, __ATOMIC_SEQ_CST);
    errno = saved;
}

uint64_t ebpf_exporter_effective_capabilities(int tid) {
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/task/%d/status", tid);
    FILE *file = fopen(path, "re");
    if (file == NULL) return UINT64_MAX;
    char line[256];
    uint64_t value = UINT64_MAX;
    while (fgets(line, sizeof(line), file) != NULL) {
        if (strncmp(line, "CapEff:", 7) == 0) {
            value = strtoull(line + 7, NULL, 16);
            break;
        }
    }
    fclose(file);
    return value;
}

static long elapsed_ms(const struct timespec *start) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000;
}

int ebpf_exporter_drop_capabilities(uint64_t keep, int timeout_ms) {
    kept = keep;
    failures = 0;
    int signal_number = drop_signal();
    int unblocked = ebpf_exporter_prepare_capability_drop();
    if (unblocked != 0) return unblocked;
    struct sigaction action, previous;
    memset(&action, 0, sizeof(action));
    action.sa_handler = handler;
    action.sa_flags = SA_RESTART;
    sigemptyset(&action.sa_mask);
    if (sigaction(signal_number, &action, &previous) != 0) return errno;
    int result = drop_in_this_thread();
    pid_t self = (pid_t)syscall(SYS_gettid);
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    // Until a pass over every thread finds each one done: a thread started during a pass is
    // seen by the next.
    for (int pending = 1; result == 0 && pending;) {
        pending = 0;
        DIR *tasks = opendir("/proc/self/task");
        if (tasks == NULL) {
            result = errno;
            break;
        }
        struct dirent *entry;
        while ((entry = readdir(tasks)) != NULL) {
            pid_t tid = (pid_t)atoi(entry->d_name);
            if (tid <= 0 || tid == self) continue;
            uint64_t effective = ebpf_exporter_effective_capabilities(tid);
            if (effective == UINT64_MAX || effective == keep) continue;
            pending = 1;
            syscall(SYS_tgkill, getpid(), tid, signal_number);
        }
        closedir(tasks);
        if (failures > 0) result = EPERM;
        else if (pending && elapsed_ms(&start) > timeout_ms) result = ETIMEDOUT;
        else if (pending) usleep(1000);
    }
    // The handler stays installed: a late signal still finds it.
    (void)previous;
    return result;
}
