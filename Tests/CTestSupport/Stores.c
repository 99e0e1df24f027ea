#include "CTestSupport.h"

void cts_store_repeatedly(volatile unsigned long long *address, unsigned long long value, int count) {
    for (int i = 0; i < count; i++) *address = value + (unsigned long long)i;
}
