#ifndef C_TEST_SUPPORT_H
#define C_TEST_SUPPORT_H

#include <sys/types.h>

/// Starts `path` with `argv` (NULL-terminated) and this process's environment as a child
/// whose pid is exactly `pid`, with clone3's set_tid (Linux 5.5, CAP_SYS_ADMIN): a pid
/// reused on purpose, whatever else the machine starts meanwhile. Returns the pid, or -1
/// with errno set (EEXIST: a process has the pid). Returns once the child has exec'd.
pid_t cts_spawn_with_pid(pid_t pid, const char *path, char *const argv[]);

/// Names the calling thread (its comm, at most 15 bytes) with a raw prctl(PR_SET_NAME).
/// Returns 0, or -1 with errno set.
int cts_set_thread_name(const char *name);

#endif
