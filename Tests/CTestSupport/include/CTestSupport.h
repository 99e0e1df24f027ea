#ifndef C_TEST_SUPPORT_H
#define C_TEST_SUPPORT_H

#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Starts `path` with `argv` (NULL-terminated) and this process's environment as a child
/// whose pid is exactly `pid`, with clone3's set_tid (Linux 5.5, CAP_SYS_ADMIN): a pid
/// reused on purpose, whatever else the machine starts meanwhile. Returns the pid, or -1
/// with errno set (EEXIST: a process has the pid). Returns once the child has exec'd.
pid_t cts_spawn_with_pid(pid_t pid, const char *path, char *const argv[]);

/// Names the calling thread (its comm, at most 15 bytes) with a raw prctl(PR_SET_NAME).
/// Returns 0, or -1 with errno set.
int cts_set_thread_name(const char *name);

/// Moves the calling thread into a new network namespace (unshare(CLONE_NEWNET)) and
/// returns a descriptor of it (close-on-exec), or -1 with errno set.
int cts_enter_new_network_namespace(void);

/// Stores `value` at `address` `count` times, each store an instruction of its own (a
/// volatile store the compiler keeps): what a write watchpoint counts.
void cts_store_repeatedly(volatile unsigned long long *address, unsigned long long value, int count);

/// getppid as a 32-bit process calls it (`int $0x80`, number 64), from this 64-bit one:
/// what the syscall tracepoints skip. Returns the parent's pid (-1 off x86-64).
long cts_ia32_getppid(void);

/// Calls of C++ functions in namespace ebpf_fixture (CxxFunctions.cpp):
/// `Counter::make(base).add(value, other)`, `Counter::make(base).add(value)`,
/// `twice<long>`, `twice<int>`, the anonymous namespace's `hidden` (value - 1), and
/// `outer → middle → inner` ((value * 3 + 1) + 1).
long cts_cxx_add(long base, long value, long other);
long cts_cxx_add_one(long base, long value);
long cts_cxx_twice_long(long value);
int cts_cxx_twice_int(int value);
long cts_cxx_hidden(long value);
long cts_cxx_outer(long value);

#ifdef __cplusplus
}
#endif

#endif
