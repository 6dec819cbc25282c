/* alloc.c: allocation helpers and the thread count used by the kernels. */
#include "retrace/base.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define RT_ALIGN_BYTES 64

static void die_oom(size_t n) {
    fprintf(stderr, "retrace: out of memory allocating %zu bytes\n", n);
    abort();
}

void *rt_malloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) die_oom(n);
    return p;
}

void *rt_calloc(size_t count, size_t size) {
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) die_oom(count * size);
    return p;
}

void *rt_realloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) die_oom(n);
    return q;
}

char *rt_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = rt_malloc(n);
    memcpy(d, s, n);
    return d;
}

float *rt_alloc_floats(size_t count) {
    size_t bytes = count * sizeof(float);
    bytes = (bytes + RT_ALIGN_BYTES - 1) / RT_ALIGN_BYTES * RT_ALIGN_BYTES;
    void *p = aligned_alloc(RT_ALIGN_BYTES, bytes ? bytes : RT_ALIGN_BYTES);
    if (!p) die_oom(bytes);
    return p;
}

void rt_free_aligned(void *p) { free(p); }

void *rt_try_alloc(size_t n, const char *what) {
    void *p = rt_fault_hit(RT_FAULT_ALLOC) ? NULL : malloc(n ? n : 1);
    if (!p) rt_fail(RT_ERR_NOMEM, "out of memory allocating %zu bytes for %s", n, what);
    return p;
}

static int g_threads = 0;

int rt_threads(void) {
    if (g_threads > 0) return g_threads;
    const char *env = getenv("RT_THREADS");
    int n = env ? atoi(env) : 0;
    if (n <= 0) n = omp_get_max_threads();
    g_threads = n > 0 ? n : 1;
    return g_threads;
}

void rt_set_threads(int n) {
    g_threads = n > 0 ? n : 1;
    omp_set_num_threads(g_threads);
}
