// The plain C consumer the library is measured against: libbcc's perf_reader, configured like
// the library's defaults (page count, wake-up batching, a 10 ms drain of every ring).
//
//   c_consumer PROGRAM_FILE CATEGORY:NAME SEQ_FIELD_OFFSET SEQ_BASE COUNT PAGES WAKEUP
//
// Prints "READY startup_ns=N" once attached (compile + load + attach + buffers), then counts
// records and distinct sequence numbers until stdin reaches EOF and the rings are quiet, and
// prints "RESULT ...". The record's sequence number is a u32 at SEQ_FIELD_OFFSET.
#include <bcc/bcc_common.h>
#include <bcc/libbpf.h>
#include <bcc/perf_reader.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t cpu_ns(void) {
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return (uint64_t)(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1000000000ull +
           (uint64_t)(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1000ull;
}

static long seq_offset, seq_base, expected;
static uint64_t delivered, lost, last_ns, duplicates;
static uint8_t *seen;

static void on_record(void *cookie, void *data, int size) {
    (void)cookie;
    delivered++;
    last_ns = now_ns();
    if (seq_offset + 4 > size) return;
    uint32_t value;
    memcpy(&value, (char *)data + seq_offset, 4);
    long seq = (long)value - seq_base;
    if (seq >= 0 && seq < expected) {
        if (seen[seq]) duplicates++;
        seen[seq] = 1;
    }
}

static void on_lost(void *cookie, uint64_t count) {
    (void)cookie;
    lost += count;
}

static char *read_file(const char *path) {
    FILE *file = fopen(path, "r");
    if (!file) return NULL;
    fseek(file, 0, SEEK_END);
    long length = ftell(file);
    fseek(file, 0, SEEK_SET);
    char *text = calloc(1, (size_t)length + 1);
    if (fread(text, 1, (size_t)length, file) != (size_t)length) { free(text); text = NULL; }
    fclose(file);
    return text;
}

int main(int argc, char **argv) {
    if (argc != 8) {
        fprintf(stderr, "usage: c_consumer PROGRAM CATEGORY:NAME SEQ_OFFSET SEQ_BASE COUNT PAGES WAKEUP\n");
        return 2;
    }
    char *text = read_file(argv[1]);
    char category[64], name[128];
    if (!text || sscanf(argv[2], "%63[^:]:%127s", category, name) != 2) return 2;
    seq_offset = atol(argv[3]);
    seq_base = atol(argv[4]);
    expected = atol(argv[5]);
    int pages = atoi(argv[6]), wakeup = atoi(argv[7]);
    seen = calloc((size_t)expected + 1, 1);

    uint64_t start = now_ns();
    void *module = bpf_module_create_c_from_string(text, 0, NULL, 0, true, NULL);
    if (!module) { fprintf(stderr, "compile failed\n"); return 1; }
    const char *fn = "ebpf_probe";
    int prog = bcc_func_load(module, BPF_PROG_TYPE_TRACEPOINT, fn, bpf_function_start(module, fn),
                             (int)bpf_function_size(module, fn), bpf_module_license(module),
                             bpf_module_kern_version(module), 0, NULL, 0, NULL, -1);
    if (prog < 0) { fprintf(stderr, "load failed\n"); return 1; }
    int table = bpf_table_fd(module, "ebpf_events");
    int cpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
    struct perf_reader **readers = calloc((size_t)cpus, sizeof(*readers));
    for (int cpu = 0; cpu < cpus; cpu++) {
        struct bcc_perf_buffer_opts opts = { .pid = -1, .cpu = cpu, .wakeup_events = wakeup };
        readers[cpu] = bpf_open_perf_buffer_opts(on_record, on_lost, NULL, pages, &opts);
        if (!readers[cpu]) { fprintf(stderr, "perf buffer failed\n"); return 1; }
        int fd = perf_reader_fd(readers[cpu]);
        bpf_update_elem(table, &cpu, &fd, 0);
    }
    int link = bpf_attach_tracepoint(prog, category, name);
    if (link < 0) { fprintf(stderr, "attach failed\n"); return 1; }
    uint64_t startup = now_ns() - start;
    printf("READY startup_ns=%llu\n", (unsigned long long)startup);
    fflush(stdout);

    uint64_t cpu_start = cpu_ns();
    int done = 0;
    uint64_t quiet_since = 0, seen_at_quiet = 0;
    for (;;) {
        perf_reader_poll(cpus, readers, 10);
        perf_reader_consume(cpus, readers);  // the 10 ms drain for batched wake-ups
        if (!done) {
            struct pollfd in = { .fd = 0, .events = POLLIN };
            char byte;
            if (poll(&in, 1, 0) > 0 && read(0, &byte, 1) <= 0) { done = 1; quiet_since = now_ns(); seen_at_quiet = delivered; }
        } else if (delivered != seen_at_quiet) {
            seen_at_quiet = delivered;
            quiet_since = now_ns();
        } else if (delivered >= (uint64_t)expected || now_ns() - quiet_since > 200000000ull) {
            break;
        }
    }
    uint64_t cpu_used = cpu_ns() - cpu_start;
    long distinct = 0;
    for (long i = 0; i < expected; i++) distinct += seen[i];
    printf("RESULT delivered=%llu lost=%llu gaps=%ld duplicates=%llu last_ns=%llu cpu_ns=%llu\n",
           (unsigned long long)delivered, (unsigned long long)lost, expected - distinct,
           (unsigned long long)duplicates, (unsigned long long)last_ns, (unsigned long long)cpu_used);
    fflush(stdout);
    close(link);
    for (int cpu = 0; cpu < cpus; cpu++) perf_reader_free(readers[cpu]);
    bpf_module_destroy(module);
    return 0;
}
