/* simd.c: the cap on run-time SIMD choices (RETRACE_SIMD), shared by every kernel that dispatches. */
#include "retrace/base.h"

#include <stdatomic.h>

static atomic_int g_cap = RT_SIMD_AVX512;

void rt_simd_limit(int level) { atomic_store(&g_cap, level < RT_SIMD_SCALAR ? RT_SIMD_SCALAR : level); }

int rt_simd_allowed(int level) { return level <= atomic_load(&g_cap); }
