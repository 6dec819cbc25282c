/* fault.c: fault injection for tests. Each kind keeps a use counter and an armed target; the use that
 * reaches the target fails once. Atomics keep the counters exact when OpenMP threads allocate. */
#include "retrace/base.h"

#include <stdatomic.h>

static atomic_long g_count[RT_N_FAULTS];
static atomic_long g_target[RT_N_FAULTS]; /* 0 = disarmed */

void rt_fault_arm(rt_fault_kind kind, long nth) {
    if ((int)kind < 0 || kind >= RT_N_FAULTS) return;
    atomic_store(&g_count[kind], 0);
    atomic_store(&g_target[kind], nth > 0 ? nth : 0);
}

int rt_fault_hit(rt_fault_kind kind) {
    if ((int)kind < 0 || kind >= RT_N_FAULTS) return 0;
    long n = atomic_fetch_add(&g_count[kind], 1) + 1;
    long target = atomic_load(&g_target[kind]);
    if (target == 0 || n != target) return 0;
    /* Only the thread that reaches the target disarms, so the fault fires exactly once. */
    return atomic_compare_exchange_strong(&g_target[kind], &target, 0);
}

long rt_fault_count(rt_fault_kind kind) {
    if ((int)kind < 0 || kind >= RT_N_FAULTS) return 0;
    return atomic_load(&g_count[kind]);
}
