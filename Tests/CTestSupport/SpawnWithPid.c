#define _GNU_SOURCE
#include "CTestSupport.h"

#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char **environ;

// Not instrumented: the sanitizers' runtimes must not run in the child before its exec.
__attribute__((no_sanitize("address", "thread")))
pid_t cts_spawn_with_pid(pid_t pid, const char *path, char *const argv[]) {
    pid_t tid[1] = {pid};
    struct clone_args args;
    memset(&args, 0, sizeof args);
    // The parent waits until the child has exec'd (or exited); the child starts with default
    // signal handlers, so none of this process's runs in it.
    args.flags = CLONE_VFORK | CLONE_CLEAR_SIGHAND;
    args.exit_signal = SIGCHLD;
    args.set_tid = (uint64_t)(uintptr_t)tid;
    args.set_tid_size = 1;
    long child = syscall(SYS_clone3, &args, sizeof args);
    if (child == 0) {
        // The child of a multithreaded process: only async-signal-safe calls until exec.
        syscall(SYS_execve, path, argv, environ);  // raw: no interceptor runs in the child
        syscall(SYS_exit_group, 127);
    }
    return (pid_t)child;
}
