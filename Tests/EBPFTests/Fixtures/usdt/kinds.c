// The fixture's probe whose arguments sit in each place a USDT note can name: a register,
// a constant, memory at an offset from a register, and memory at a scaled index register
// (-4@%eax -4@$-5 -4@-20(%rsp) -4@-24(%rsp,%rdx,4) with gcc 12 at -O1).
#include <sys/sdt.h>

void fire_kinds(int round) {
    volatile int on_stack[4] = {round * 3, round * 5, round * 7, round * 11};
    int index = round % 4;
    DTRACE_PROBE4(ebpftest, kinds, round, -5, on_stack[1], on_stack[index]);
}
