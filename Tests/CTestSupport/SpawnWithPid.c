#define _GNU_SOURCE
#include "CTestSupport.h"

#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char **environ;

pid_t cts_spawn_with_pid(pid_t pid, const char *path, char *const argv[]) {
    pid_t tid[1] = {pid};
    struct clone_args args;
    memset(&args, 0, sizeof args);
    args.exit_signal = SIGCHLD;
    args.set_tid = (uint64_t)(uintptr_t)tid;
    args.set_tid_size = 1;
    long child = syscall(SYS_clone3, &args, sizeof args);
    if (child == 0) {
        // The child of a multithreaded process: only async-signal-safe calls until exec.
        execve(path, argv, environ);
        _exit(127);
    }
    return (pid_t)child;
}
