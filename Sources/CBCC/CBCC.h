// The libbcc C API (Debian's libbpfcc-dev) and the few Linux headers the EBPF module needs
// beside it. Only Sources/EBPF/Kernel may call what this declares.
#ifndef CBCC_H
#define CBCC_H

#include <bcc/bcc_common.h>
#include <bcc/libbpf.h>
#include <bcc/bcc_proc.h>
#include <bcc/bcc_syms.h>

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <malloc.h>

#endif
