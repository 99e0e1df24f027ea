// C++ functions of this test binary that CxxUprobeTests probes by their demangled names:
// a method and its overload, a static method, a template's two instantiations, a function
// in an anonymous namespace, and a call chain for stacks. Called through the extern "C"
// functions below; never inlined, so every call is a call.
#include "CTestSupport.h"

#define NOINLINE __attribute__((noinline))

namespace ebpf_fixture {

struct Counter {
    long base;
    NOINLINE long add(long value, long other) const;
    NOINLINE long add(long value) const;
    NOINLINE static Counter make(long base);
};

long Counter::add(long value, long other) const { return base + value + other; }
long Counter::add(long value) const { return base + value; }
Counter Counter::make(long base) { return Counter{base}; }

template <typename T> NOINLINE T twice(T value) { return value * 2; }
template long twice<long>(long);
template int twice<int>(int);

namespace {
NOINLINE long hidden(long value) { return value - 1; }
}  // namespace

NOINLINE long inner(long value) { return value * 3; }
NOINLINE long middle(long value) { return inner(value) + 1; }
NOINLINE long outer(long value) { return middle(value) + 1; }

}  // namespace ebpf_fixture

long cts_cxx_add(long base, long value, long other) {
    return ebpf_fixture::Counter::make(base).add(value, other);
}

long cts_cxx_add_one(long base, long value) { return ebpf_fixture::Counter::make(base).add(value); }

long cts_cxx_twice_long(long value) { return ebpf_fixture::twice(value); }

int cts_cxx_twice_int(int value) { return ebpf_fixture::twice(value); }

long cts_cxx_hidden(long value) { return ebpf_fixture::hidden(value); }

long cts_cxx_outer(long value) { return ebpf_fixture::outer(value); }
