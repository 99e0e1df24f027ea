// The libbcc C API (Debian's libbpfcc-dev) and the few Linux headers the EBPF module needs
// beside it. Only Sources/EBPF/Kernel may call what this declares.
//
// libbcc comes in two libraries, and neither is linked: both are opened with dlopen(3),
// each with its own table of the functions the EBPF module calls (`struct cbcc_runtime`,
// `struct cbcc_compiler`, filled by `cbcc_runtime_load` and `cbcc_compiler_load`).
// libbcc_bpf.so (attaching, maps, symbols: half a megabyte) is opened by the first wrapper.
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

// The functions of libbcc_bpf.so the EBPF module calls, each with its declared type.
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
    F(bpf_lookup_and_delete) \
    F(bpf_lookup_batch) \
    F(bpf_lookup_and_delete_batch) \
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
    F(bcc_func_load) \
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
    F(bcc_usdt_get_location) \
    F(bcc_usdt_get_argument)

#define CBCC_MEMBER(name) __typeof__(&name) name;
struct cbcc_runtime {
    CBCC_RUNTIME_FUNCTIONS(CBCC_MEMBER)
};
struct cbcc_compiler {
    CBCC_COMPILER_FUNCTIONS(CBCC_MEMBER)
};
#undef CBCC_MEMBER

// Fill a table from a handle dlopen(3) returned. Each returns NULL, or the name of the
// first function the library lacks.
#define CBCC_LOOKUP(name) \
    if (!(table->name = (__typeof__(&name))dlsym(handle, #name))) return #name;
static inline const char *cbcc_runtime_load(void *handle, struct cbcc_runtime *table) {
    CBCC_RUNTIME_FUNCTIONS(CBCC_LOOKUP)
    return 0;
}
static inline const char *cbcc_compiler_load(void *handle, struct cbcc_compiler *table) {
    CBCC_COMPILER_FUNCTIONS(CBCC_LOOKUP)
    return 0;
}
#undef CBCC_LOOKUP

#endif
