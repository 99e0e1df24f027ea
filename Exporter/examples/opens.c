// Counts openat calls by user id: the table 'opens' is served as a counter (native.yaml).
BPF_HASH(opens, u32, u64);

int count_opens(void *ctx) {
    u32 uid = bpf_get_current_uid_gid();
    opens.increment(uid);
    return 0;
}
