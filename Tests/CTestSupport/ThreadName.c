#define _GNU_SOURCE
#include "CTestSupport.h"

#include <linux/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int cts_set_thread_name(const char *name) {
    // A raw prctl: no sanitizer interceptor runs, and the kernel sets the thread's comm.
    return (int)syscall(SYS_prctl, PR_SET_NAME, name, 0, 0, 0);
}
