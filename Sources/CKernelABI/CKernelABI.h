// What Swift cannot say by itself about the kernel interfaces the library uses directly:
// perf_event_open(2), pidfd_open(2) and bpf(2), which glibc reaches only through the
// variadic syscall(2) (bpf(2) with a union Swift cannot fill field by field), and the acquire loads and release stores the kernel requires on the event
// rings' positions (see the comment on data_head in <linux/perf_event.h>, and
// kernel/bpf/ringbuf.c). Only Sources/EBPF/Kernel may call what this declares.
#ifndef CKERNELABI_H
#define CKERNELABI_H

#include <linux/bpf.h>
#include <linux/membarrier.h>
#include <errno.h>
#include <linux/perf_event.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

/// Opens a PERF_COUNT_SW_BPF_OUTPUT event on `cpu`, for every process: the event a
/// BPF_MAP_TYPE_PERF_EVENT_ARRAY slot points at. bpf_perf_event_output() data arrives as
/// PERF_RECORD_SAMPLE records carrying PERF_SAMPLE_RAW; the kernel wakes pollers after
/// every `wakeup_events` records. Returns the descriptor, or -1 with errno set.
static inline int cka_open_bpf_output_event(int cpu, uint32_t wakeup_events) {
    struct perf_event_attr attr = {0};
    attr.size = sizeof(attr);
    attr.type = PERF_TYPE_SOFTWARE;
    attr.config = PERF_COUNT_SW_BPF_OUTPUT;
    attr.sample_type = PERF_SAMPLE_RAW;
    attr.sample_period = 1;
    attr.wakeup_events = wakeup_events;
    return (int)syscall(__NR_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
}

/// Opens the tracepoint with perf id `id` (its format file's `ID:` line) for every process,
/// on the CPU the caller runs on, runs BPF program `program` on every hit (on any CPU: a
/// tracepoint's programs are the tracepoint's, not the event's) and enables it. The CPU is
/// the caller's so the kernel installs the event without an inter-processor call (libbcc
/// opens every tracepoint on CPU 0). Returns the descriptor, or -1 with errno set (and
/// nothing left open).
static inline int cka_attach_tracepoint(uint64_t id, int program) {
    struct perf_event_attr attr = {0};
    attr.size = sizeof(attr);
    attr.type = PERF_TYPE_TRACEPOINT;
    attr.config = id;
    attr.sample_period = 1;
    attr.wakeup_events = 1;
    unsigned cpu = 0;
    if (syscall(__NR_getcpu, &cpu, NULL, NULL) != 0) cpu = 0;
    int fd = (int)syscall(__NR_perf_event_open, &attr, -1, (int)cpu, -1, PERF_FLAG_FD_CLOEXEC);
    if (fd < 0) return -1;
    if (ioctl(fd, PERF_EVENT_IOC_SET_BPF, program) != 0 || ioctl(fd, PERF_EVENT_IOC_ENABLE, 0) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

/// A descriptor for process `pid` that stays bound to that process, not to its pid: it
/// polls readable once the process has exited, even after the pid is reused (Linux 5.3+).
/// Returns the descriptor (close-on-exec), or -1 with errno set.
static inline int cka_pidfd_open(pid_t pid) {
    return (int)syscall(__NR_pidfd_open, pid, 0);
}

/// membarrier(MEMBARRIER_CMD_GLOBAL): returns after an RCU grace period, so every BPF
/// program that was running when it was called has returned (programs run inside RCU
/// read-side sections). Returns 0, or -1 with errno set (EINVAL on nohz_full kernels).
static inline int cka_wait_for_running_programs(void) {
    return (int)syscall(__NR_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0);
}

/// Reads a position the kernel advances; what it covers is visible after this load.
static inline uint64_t cka_load_acquire_u64(const uint64_t *position) {
    return __atomic_load_n(position, __ATOMIC_ACQUIRE);
}

/// Reads a BPF ring buffer record's length word (the kernel clears its busy bit on commit).
static inline uint32_t cka_load_acquire_u32(const uint32_t *word) {
    return __atomic_load_n(word, __ATOMIC_ACQUIRE);
}

/// Publishes how far the reader has consumed; the kernel may overwrite what lies before it.
static inline void cka_store_release_u64(uint64_t *position, uint64_t value) {
    __atomic_store_n(position, value, __ATOMIC_RELEASE);
}

/// BPF_MAP_CREATE. `name` (at most 15 characters of [A-Za-z0-9_.]) is what bpftool
/// shows. Returns the map's descriptor (close-on-exec), or -1 with errno set.
static inline int cka_bpf_map_create(uint32_t type, uint32_t key_size, uint32_t value_size,
                                     uint32_t max_entries, uint32_t flags, const char *name) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.map_type = type;
    attr.key_size = key_size;
    attr.value_size = value_size;
    attr.max_entries = max_entries;
    attr.map_flags = flags;
    strncpy(attr.map_name, name, sizeof(attr.map_name) - 1);
    return (int)syscall(__NR_bpf, BPF_MAP_CREATE, &attr, sizeof(attr));
}

/// bpf(BPF_ENABLE_STATS, BPF_STATS_RUN_TIME): the kernel counts every BPF program's runs
/// and run time while the returned descriptor is open (Linux 5.8; CAP_SYS_ADMIN). Returns
/// the descriptor, or -1 with errno set.
static inline int cka_bpf_enable_run_time_stats(void) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.enable_stats.type = BPF_STATS_RUN_TIME;
    return (int)syscall(__NR_bpf, BPF_ENABLE_STATS, &attr, sizeof(attr));
}

/// What BPF_OBJ_GET_INFO_BY_FD says of the program behind descriptor `fd` (no capability
/// needed for a descriptor the caller holds): its id, type, name (15 characters and a
/// NUL), tag, and the runs and nanoseconds counted while statistics were on (Linux 5.1).
/// Returns 0, or -1 with errno set.
static inline int cka_bpf_prog_info(int fd, uint32_t *id, uint32_t *type, char name[16], uint8_t tag[8],
                                    uint64_t *run_time_ns, uint64_t *run_count) {
    struct bpf_prog_info info;
    union bpf_attr attr;
    memset(&info, 0, sizeof(info));
    memset(&attr, 0, sizeof(attr));
    attr.info.bpf_fd = (uint32_t)fd;
    attr.info.info_len = sizeof(info);
    attr.info.info = (uint64_t)(uintptr_t)&info;
    if (syscall(__NR_bpf, BPF_OBJ_GET_INFO_BY_FD, &attr, sizeof(attr)) != 0) return -1;
    *id = info.id;
    *type = info.type;
    memcpy(name, info.name, 16);
    name[15] = 0;
    memcpy(tag, info.tag, 8);
    *run_time_ns = info.run_time_ns;
    *run_count = info.run_cnt;
    return 0;
}

/// BPF_PROG_LOAD of `count` instructions, whose map references already hold descriptors.
/// With `log_level` 1 the verifier writes its log into `log`. Returns the program's
/// descriptor (close-on-exec), or -1 with errno set.
static inline int cka_bpf_prog_load(uint32_t type, const void *instructions, uint32_t count,
                                    const char *license, uint32_t kernel_version, const char *name,
                                    uint32_t log_level, char *log, uint32_t log_size,
                                    uint32_t expected_attach_type, uint32_t attach_btf_id) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.prog_type = type;
    attr.expected_attach_type = expected_attach_type;
    attr.attach_btf_id = attach_btf_id;
    attr.insns = (uint64_t)(uintptr_t)instructions;
    attr.insn_cnt = count;
    attr.license = (uint64_t)(uintptr_t)license;
    attr.kern_version = kernel_version;
    strncpy(attr.prog_name, name, sizeof(attr.prog_name) - 1);
    if (log_level > 0 && log != NULL && log_size > 0) {
        attr.log_level = log_level;
        attr.log_buf = (uint64_t)(uintptr_t)log;
        attr.log_size = log_size;
        log[0] = 0;
    }
    return (int)syscall(__NR_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
}

#endif
