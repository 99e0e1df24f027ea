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
#include <linux/if_ether.h>
#include <linux/netlink.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <net/if.h>
#include <netpacket/packet.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/vfs.h>
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

/// Opens the perf event `attr` for `pid` on `cpu`, runs BPF program `program` on each of
/// its events and enables it. Returns the descriptor, or -1 with errno set (and nothing
/// left open).
static inline int cka_open_with_program(struct perf_event_attr *attr, int pid, int cpu, int program) {
    int fd = (int)syscall(__NR_perf_event_open, attr, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC);
    if (fd < 0) return -1;
    if (ioctl(fd, PERF_EVENT_IOC_SET_BPF, program) != 0 || ioctl(fd, PERF_EVENT_IOC_ENABLE, 0) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
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
    return cka_open_with_program(&attr, -1, (int)cpu, program);
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

/// BPF_OBJ_GET_INFO_BY_FD into `info` (a struct bpf_prog_info or bpf_map_info of `size`
/// bytes, zeroed first): no capability needed for a descriptor the caller holds. Returns
/// 0, or -1 with errno set.
static inline int cka_bpf_obj_info(int fd, void *info, uint32_t size) {
    union bpf_attr attr;
    memset(info, 0, size);
    memset(&attr, 0, sizeof(attr));
    attr.info.bpf_fd = (uint32_t)fd;
    attr.info.info_len = size;
    attr.info.info = (uint64_t)(uintptr_t)info;
    return (int)syscall(__NR_bpf, BPF_OBJ_GET_INFO_BY_FD, &attr, sizeof(attr));
}

/// What BPF_OBJ_GET_INFO_BY_FD says of the program behind descriptor `fd`: its id, type,
/// name (15 characters and a NUL), tag, and the runs and nanoseconds counted while
/// statistics were on (Linux 5.1). Returns 0, or -1 with errno set.
static inline int cka_bpf_prog_info(int fd, uint32_t *id, uint32_t *type, char name[16], uint8_t tag[8],
                                    uint64_t *run_time_ns, uint64_t *run_count) {
    struct bpf_prog_info info;
    if (cka_bpf_obj_info(fd, &info, sizeof(info)) != 0) return -1;
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

/// BPF_LINK_CREATE: attaches program `program` to `target` (an interface index for XDP and
/// tcx, a cgroup's directory descriptor for cgroup programs, 0 for an iterator) as
/// `attach_type`, through a link that detaches when its last descriptor closes (with the
/// process that holds it). `flags`: XDP's mode flags; 0 otherwise. Returns the link's
/// descriptor (close-on-exec), or -1 with errno set.
static inline int cka_bpf_link_create(int program, uint32_t target, uint32_t attach_type, uint32_t flags) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.link_create.prog_fd = (uint32_t)program;
    attr.link_create.target_fd = target;
    attr.link_create.attach_type = attach_type;
    attr.link_create.flags = flags;
    return (int)syscall(__NR_bpf, BPF_LINK_CREATE, &attr, sizeof(attr));
}

/// BPF_RAW_TRACEPOINT_OPEN with no name: attaches a program loaded for a BTF id (an LSM
/// hook, an fentry) through a link. Returns the link's descriptor, or -1 with errno set.
static inline int cka_bpf_attach_btf_program(int program) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.raw_tracepoint.prog_fd = (uint32_t)program;
    return (int)syscall(__NR_bpf, BPF_RAW_TRACEPOINT_OPEN, &attr, sizeof(attr));
}

/// BPF_PROG_ATTACH (`detach` 0) or BPF_PROG_DETACH (`detach` 1) of `program` on the cgroup
/// directory `target` as `attach_type`, with BPF_F_ALLOW_OVERRIDE or BPF_F_ALLOW_MULTI:
/// the attachment stays after the process exits, until detached. Returns 0, or -1 with errno.
static inline int cka_bpf_prog_attach(int program, int target, uint32_t attach_type, uint32_t flags, int detach) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.target_fd = (uint32_t)target;
    attr.attach_bpf_fd = (uint32_t)program;
    attr.attach_type = attach_type;
    attr.attach_flags = flags;
    return (int)syscall(__NR_bpf, detach ? BPF_PROG_DETACH : BPF_PROG_ATTACH, &attr, sizeof(attr));
}

/// BPF_ITER_CREATE: a new run of the iterator behind link `link`, read with read(2).
/// Returns its descriptor, or -1 with errno set.
static inline int cka_bpf_iter_create(int link) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.iter_create.link_fd = (uint32_t)link;
    return (int)syscall(__NR_bpf, BPF_ITER_CREATE, &attr, sizeof(attr));
}

/// BPF_OBJ_PIN of the map, program or link behind `fd` at `path` on a bpffs mount.
/// Returns 0, or -1 with errno set.
static inline int cka_bpf_obj_pin(int fd, const char *path) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.bpf_fd = (uint32_t)fd;
    attr.pathname = (uint64_t)(uintptr_t)path;
    return (int)syscall(__NR_bpf, BPF_OBJ_PIN, &attr, sizeof(attr));
}

/// BPF_OBJ_GET: a descriptor of the object pinned at `path`. Returns it, or -1 with errno.
static inline int cka_bpf_obj_get(const char *path) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.pathname = (uint64_t)(uintptr_t)path;
    return (int)syscall(__NR_bpf, BPF_OBJ_GET, &attr, sizeof(attr));
}

/// BPF_MAP_GET_FD_BY_ID (`program` 0) or BPF_PROG_GET_FD_BY_ID (`program` 1).
/// Returns a descriptor, or -1 with errno set.
static inline int cka_bpf_get_fd_by_id(uint32_t id, int program) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    if (program) attr.prog_id = id; else attr.map_id = id;
    return (int)syscall(__NR_bpf, program ? BPF_PROG_GET_FD_BY_ID : BPF_MAP_GET_FD_BY_ID, &attr, sizeof(attr));
}

/// What BPF_OBJ_GET_INFO_BY_FD says of a map: its id, type, key and value sizes, and
/// maximum entries. Returns 0, or -1 with errno set.
static inline int cka_bpf_map_info(int fd, uint32_t *id, uint32_t *type, uint32_t *key_size,
                                   uint32_t *value_size, uint32_t *max_entries, char name[16]) {
    struct bpf_map_info info;
    if (cka_bpf_obj_info(fd, &info, sizeof(info)) != 0) return -1;
    *id = info.id;
    *type = info.type;
    *key_size = info.key_size;
    *value_size = info.value_size;
    *max_entries = info.max_entries;
    memcpy(name, info.name, 16);
    name[15] = 0;
    return 0;
}

/// BPF_MAP_UPDATE_BATCH (`remove` 0, with `values`) or BPF_MAP_DELETE_BATCH (`remove` 1)
/// of `*count` entries (Linux 5.6). On return `*count` is how many were done. Returns 0,
/// or -1 with errno set.
static inline int cka_bpf_map_batch(int map, int remove, const void *keys, const void *values,
                                    uint32_t *count, uint64_t flags) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.batch.map_fd = (uint32_t)map;
    attr.batch.keys = (uint64_t)(uintptr_t)keys;
    attr.batch.values = (uint64_t)(uintptr_t)values;
    attr.batch.count = *count;
    attr.batch.elem_flags = flags;
    int result = (int)syscall(__NR_bpf, remove ? BPF_MAP_DELETE_BATCH : BPF_MAP_UPDATE_BATCH, &attr, sizeof(attr));
    *count = attr.batch.count;
    return result;
}

/// Opens a hardware breakpoint (PERF_TYPE_BREAKPOINT) on `length` bytes at `address`,
/// hit on `kind` (HW_BREAKPOINT_R 1, W 2, RW 3, X 4), for process `pid` (-1: every
/// process) on `cpu` (-1: any), and runs program `program` on each hit. Returns the
/// descriptor, or -1 with errno set (and nothing left open).
static inline int cka_attach_breakpoint(int program, uint64_t address, uint32_t length, uint32_t kind,
                                        int pid, int cpu) {
    struct perf_event_attr attr = {0};
    attr.size = sizeof(attr);
    attr.type = PERF_TYPE_BREAKPOINT;
    attr.bp_type = kind;
    attr.bp_addr = address;
    attr.bp_len = length;
    attr.sample_period = 1;
    attr.wakeup_events = 1;
    return cka_open_with_program(&attr, pid, cpu, program);
}

// tc through rtnetlink, for kernels before tcx (6.6): the clsact qdisc and a bpf classifier
// in direct-action mode, as `tc filter add dev D egress bpf da fd N` makes them.

/// A request to the kernel's routing netlink: a header, a tcmsg, attributes.
struct cka_tc_request {
    struct nlmsghdr header;
    struct tcmsg tc;
    char attributes[256];
};

static inline struct rtattr *cka_tc_attribute(struct cka_tc_request *request, uint16_t type, const void *data,
                                              size_t length) {
    struct rtattr *attribute = (struct rtattr *)((char *)request + NLMSG_ALIGN(request->header.nlmsg_len));
    attribute->rta_type = type;
    attribute->rta_len = (unsigned short)RTA_LENGTH(length);
    if (length) memcpy(RTA_DATA(attribute), data, length);
    request->header.nlmsg_len = NLMSG_ALIGN(request->header.nlmsg_len) + RTA_ALIGN(attribute->rta_len);
    return attribute;
}

/// Sends `request` (with NLM_F_DUMP in its flags: a dump, whose RTM_NEWTFILTER answers are
/// counted into `*count`) and reads the kernel's answer to its end. Returns 0, or -1 with
/// errno set to the kernel's answer.
static inline int cka_tc_send(struct cka_tc_request *request, int *count) {
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) return -1;
    struct sockaddr_nl kernel;
    memset(&kernel, 0, sizeof(kernel));
    kernel.nl_family = AF_NETLINK;
    int dump = (request->header.nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;
    request->header.nlmsg_flags |= NLM_F_REQUEST | (dump ? 0 : NLM_F_ACK);
    request->header.nlmsg_seq = 1;
    if (sendto(fd, request, request->header.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    char buffer[16384];
    for (;;) {
        ssize_t received = recv(fd, buffer, sizeof(buffer), 0);
        if (received < 0) {
            if (errno == EINTR) continue;
            int saved = errno;
            close(fd);
            errno = saved;
            return -1;
        }
        int length = (int)received;
        for (struct nlmsghdr *header = (struct nlmsghdr *)buffer; NLMSG_OK(header, length);
             header = NLMSG_NEXT(header, length)) {
            if (header->nlmsg_type == RTM_NEWTFILTER && count) *count += 1;
            int answer = 0;
            if (header->nlmsg_type == NLMSG_ERROR) {
                if (header->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr))) answer = -EPROTO;
                else answer = ((struct nlmsgerr *)NLMSG_DATA(header))->error;
            } else if (header->nlmsg_type != NLMSG_DONE) {
                continue;
            }
            close(fd);
            if (answer == 0) return 0;
            errno = -answer;
            return -1;
        }
    }
}

static inline void cka_tc_start(struct cka_tc_request *request, uint16_t type, uint16_t flags, int interface) {
    memset(request, 0, sizeof(*request));
    request->header.nlmsg_len = NLMSG_LENGTH(sizeof(struct tcmsg));
    request->header.nlmsg_type = type;
    request->header.nlmsg_flags = flags;
    request->tc.tcm_family = AF_UNSPEC;
    request->tc.tcm_ifindex = interface;
}

/// Adds (`add` 1, failing with EEXIST when there is one) or deletes the clsact qdisc of
/// interface `interface`. Returns 0, or -1 with errno set.
static inline int cka_tc_clsact(int interface, int add) {
    struct cka_tc_request request;
    cka_tc_start(&request, add ? RTM_NEWQDISC : RTM_DELQDISC, add ? NLM_F_CREATE | NLM_F_EXCL : 0, interface);
    request.tc.tcm_handle = TC_H_MAKE(TC_H_CLSACT, 0);
    request.tc.tcm_parent = TC_H_CLSACT;
    cka_tc_attribute(&request, TCA_KIND, "clsact", sizeof("clsact"));
    return cka_tc_send(&request, NULL);
}

/// Adds (`add` 1, with program `program` named `name`; EEXIST when the priority is taken)
/// or deletes the bpf classifier with handle 1 at `priority` on interface `interface`'s
/// ingress or egress (`egress` 1). Returns 0, or -1 with errno set.
static inline int cka_tc_filter(int interface, int egress, uint32_t priority, int program, const char *name,
                                int add) {
    struct cka_tc_request request;
    cka_tc_start(&request, add ? RTM_NEWTFILTER : RTM_DELTFILTER, add ? NLM_F_CREATE | NLM_F_EXCL : 0, interface);
    request.tc.tcm_parent = TC_H_MAKE(TC_H_CLSACT, egress ? TC_H_MIN_EGRESS : TC_H_MIN_INGRESS);
    request.tc.tcm_handle = 1;
    request.tc.tcm_info = TC_H_MAKE(priority << 16, htons(ETH_P_ALL));
    cka_tc_attribute(&request, TCA_KIND, "bpf", sizeof("bpf"));
    if (add) {
        struct rtattr *options = cka_tc_attribute(&request, TCA_OPTIONS, NULL, 0);
        uint32_t fd = (uint32_t)program, flags = TCA_BPF_FLAG_ACT_DIRECT;
        cka_tc_attribute(&request, TCA_BPF_FD, &fd, sizeof(fd));
        cka_tc_attribute(&request, TCA_BPF_NAME, name, strnlen(name, 64) + 1);
        cka_tc_attribute(&request, TCA_BPF_FLAGS, &flags, sizeof(flags));
        options->rta_len = (unsigned short)((char *)&request + request.header.nlmsg_len - (char *)options);
    }
    return cka_tc_send(&request, NULL);
}

/// How many classifiers interface `interface` has on its ingress (`egress` 0) or egress:
/// returns the count, or -1 with errno set.
static inline int cka_tc_filter_count(int interface, int egress) {
    struct cka_tc_request request;
    cka_tc_start(&request, RTM_GETTFILTER, NLM_F_DUMP, interface);
    request.tc.tcm_parent = TC_H_MAKE(TC_H_CLSACT, egress ? TC_H_MIN_EGRESS : TC_H_MIN_INGRESS);
    int count = 0;
    if (cka_tc_send(&request, &count) != 0) return -1;
    return count;
}

/// BPF_PROG_QUERY: the ids of the programs attached to the cgroup whose directory `target`
/// is open as `attach_type`, up to `*count` of them into `ids`; `*count` is set to how
/// many there are. Returns 0, or -1 with errno set.
static inline int cka_bpf_prog_query(int target, uint32_t attach_type, uint32_t *ids, uint32_t *count) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.query.target_fd = (uint32_t)target;
    attr.query.attach_type = attach_type;
    attr.query.prog_ids = (uint64_t)(uintptr_t)ids;
    attr.query.prog_cnt = *count;
    int result = (int)syscall(__NR_bpf, BPF_PROG_QUERY, &attr, sizeof(attr));
    *count = attr.query.prog_cnt;
    return result;
}

#endif
