// The libbcc C API (Debian's libbpfcc-dev) and the few Linux headers the EBPF module needs
// beside it. Only Sources/EBPF/Kernel may call what this declares.
//
// libbcc comes in two libraries, and neither is linked: both are opened with dlopen(3),
// each with its own table of the functions the EBPF module calls (`struct cbcc_runtime`,
// `struct cbcc_compiler`, filled by `cbcc_runtime_load` and `cbcc_compiler_load`), and a
// third table, `struct cbcc_symbols`, filled from whichever has the symbol functions.
// libbcc_bpf.so (attaching, maps, and symbols from 0.21: half a megabyte) is opened by the
// first wrapper.
// libbcc.so is the compiler: clang and LLVM come with it, 60 MB resident and tens of
// milliseconds of relocations as soon as it is loaded, so it is opened on the first
// compile, and a process that compiles nothing never maps it. Both are opened
// RTLD_LOCAL: libbcc.so holds a copy of libbcc_bpf's code and its C++ globals, and were one
// of them global the other would bind to its globals and both would destroy them at exit.
#ifndef CBCC_H
#define CBCC_H

#include <bcc/bcc_common.h>
#include <bcc/libbpf.h>
#include <bcc/bcc_proc.h>
#include <bcc/bcc_syms.h>
#include <bcc/bcc_usdt.h>

#include <dlfcn.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <malloc.h>

// The functions of libbcc_bpf.so the EBPF module calls, each with its declared type, which is
// the same in every release from 0.18 (Debian 11) to 0.31 (Debian 13).
#define CBCC_RUNTIME_FUNCTIONS(F) \
    F(bpf_attach_tracepoint) \
    F(bpf_attach_raw_tracepoint) \
    F(bpf_attach_kfunc) \
    F(bpf_attach_kprobe) \
    F(bpf_detach_kprobe) \
    F(bpf_attach_uprobe) \
    F(bpf_detach_uprobe) \
    F(bpf_attach_perf_event) \
    F(bpf_close_perf_event_fd) \
    F(bpf_lookup_elem) \
    F(bpf_update_elem) \
    F(bpf_delete_elem) \
    F(bpf_get_first_key) \
    F(bpf_get_next_key) \
    F(bpf_lookup_and_delete)

// Symbols and shared-library paths: in libbcc_bpf.so from 0.21, only in libbcc.so before.
#define CBCC_SYMBOL_FUNCTIONS(F) \
    F(bcc_symcache_new) \
    F(bcc_free_symcache) \
    F(bcc_symcache_resolve) \
    F(bcc_symcache_resolve_no_demangle) \
    F(bcc_symcache_resolve_name) \
    F(bcc_symbol_free_demangle_name) \
    F(bcc_resolve_symname) \
    F(bcc_procutils_which_so) \
    F(bcc_procutils_free)

// The functions of libbcc.so (the compiler) the EBPF module calls.
#define CBCC_COMPILER_FUNCTIONS(F) \
    F(bpf_module_create_c_from_string) \
    F(bpf_module_destroy) \
    F(bpf_module_license) \
    F(bpf_module_kern_version) \
    F(bpf_num_functions) \
    F(bpf_function_name) \
    F(bpf_function_start) \
    F(bpf_function_size) \
    F(bpf_num_tables) \
    F(bpf_table_name) \
    F(bpf_table_fd) \
    F(bpf_table_type) \
    F(bpf_table_flags) \
    F(bpf_table_key_size) \
    F(bpf_table_leaf_size) \
    F(bpf_table_max_entries) \
    F(bpf_table_key_desc) \
    F(bpf_table_leaf_desc) \
    F(bpf_perf_event_fields) \
    F(bpf_perf_event_field) \
    F(bcc_usdt_new_frompath) \
    F(bcc_usdt_new_frompid) \
    F(bcc_usdt_close) \
    F(bcc_usdt_foreach) \
    F(bcc_usdt_get_location)

// What differs between releases is declared here, not taken from the installed headers, so
// the module builds against any release's headers and calls the one it loaded as it is.

// Batch lookups (BPF_MAP_LOOKUP_BATCH): from 0.24.
typedef int (*cbcc_lookup_batch_fn)(
    int fd, __u32 *in_batch, __u32 *out_batch, void *keys, void *values, __u32 *count);

// bcc_func_load: 11 parameters before 0.25, then `int attach_type` (-1: none) at the end.
typedef int (*cbcc_func_load_11_fn)(
    void *program, int prog_type, const char *name, const struct bpf_insn *insns, int prog_len,
    const char *license, unsigned kern_version, int log_level, char *log_buf, unsigned log_buf_size,
    const char *dev_name);
typedef int (*cbcc_func_load_12_fn)(
    void *program, int prog_type, const char *name, const struct bpf_insn *insns, int prog_len,
    const char *license, unsigned kern_version, int log_level, char *log_buf, unsigned log_buf_size,
    const char *dev_name, int attach_type);

// bcc_usdt_get_argument writes a struct bcc_usdt_argument, whose `constant` was an `int`
// (48 bytes) before 0.19 and is a `long long` (56 bytes) since.
typedef int (*cbcc_usdt_get_argument_fn)(
    void *usdt, const char *provider_name, const char *probe_name, int index, int argument_index,
    void *argument);
#define CBCC_USDT_ARGUMENT_MEMBERS(constant_type) \
    int size; \
    int valid; \
    constant_type constant; \
    int deref_offset; \
    const char *deref_ident; \
    const char *base_register_name; \
    const char *index_register_name; \
    int scale;
struct cbcc_usdt_argument_int_constant { CBCC_USDT_ARGUMENT_MEMBERS(int) };
struct cbcc_usdt_argument_long_constant { CBCC_USDT_ARGUMENT_MEMBERS(long long) };
#undef CBCC_USDT_ARGUMENT_MEMBERS

#define CBCC_MEMBER(name) __typeof__(&name) name;
struct cbcc_runtime {
    CBCC_RUNTIME_FUNCTIONS(CBCC_MEMBER)
    // NULL where the release lacks them (before 0.24).
    cbcc_lookup_batch_fn bpf_lookup_batch;
    cbcc_lookup_batch_fn bpf_lookup_and_delete_batch;
};
struct cbcc_symbols {
    CBCC_SYMBOL_FUNCTIONS(CBCC_MEMBER)
};
struct cbcc_compiler {
    CBCC_COMPILER_FUNCTIONS(CBCC_MEMBER)
    // One of the two, by release.
    cbcc_func_load_11_fn bcc_func_load_11;
    cbcc_func_load_12_fn bcc_func_load_12;
    cbcc_usdt_get_argument_fn bcc_usdt_get_argument;
};
#undef CBCC_MEMBER

// Fill a table from a handle dlopen(3) returned. Each returns NULL, or the name of the
// first function the library lacks.
#define CBCC_LOOKUP(name) \
    if (!(table->name = (__typeof__(&name))dlsym(handle, #name))) return #name;
static inline const char *cbcc_runtime_load(void *handle, struct cbcc_runtime *table) {
    CBCC_RUNTIME_FUNCTIONS(CBCC_LOOKUP)
    table->bpf_lookup_batch = (cbcc_lookup_batch_fn)dlsym(handle, "bpf_lookup_batch");
    table->bpf_lookup_and_delete_batch = (cbcc_lookup_batch_fn)dlsym(handle, "bpf_lookup_and_delete_batch");
    return 0;
}
static inline const char *cbcc_symbols_load(void *handle, struct cbcc_symbols *table) {
    CBCC_SYMBOL_FUNCTIONS(CBCC_LOOKUP)
    return 0;
}
// `arguments`: how many parameters bcc_func_load has in this release (11 or 12).
static inline const char *cbcc_compiler_load(void *handle, struct cbcc_compiler *table, int arguments) {
    CBCC_COMPILER_FUNCTIONS(CBCC_LOOKUP)
    void *load = dlsym(handle, "bcc_func_load");
    if (!load) return "bcc_func_load";
    table->bcc_func_load_11 = arguments == 11 ? (cbcc_func_load_11_fn)load : 0;
    table->bcc_func_load_12 = arguments == 11 ? 0 : (cbcc_func_load_12_fn)load;
    if (!(table->bcc_usdt_get_argument = (cbcc_usdt_get_argument_fn)dlsym(handle, "bcc_usdt_get_argument")))
        return "bcc_usdt_get_argument";
    return 0;
}
#undef CBCC_LOOKUP

#endif
