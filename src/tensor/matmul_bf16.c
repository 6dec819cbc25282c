/* matmul_bf16.c: bfloat16 products with float32 accumulation and output, through oneDNN's matmul
 * (AMX or AVX512-BF16 kernels), for the frozen base of LoRA training.
 *
 * A oneDNN primitive is compiled for one exact shape (a runtime-sized M falls back to a kernel without
 * AMX, measured 3x slower), so primitives are cached per (M, N, K, transpose, accumulate). Without
 * oneDNN (RT_HAVE_DNNL undefined) the conversions still work and the products fail with a clear error. */
#include <string.h>

#include "retrace/tensor.h"

/* Round to nearest even, as torch's .to(bfloat16) does; NaNs stay NaN (quiet). Written without
 * intrinsics so every build (the sanitizer ones are not -march=native) has it; gcc and clang vectorise
 * the loop. */
static inline uint16_t f32_to_bf16_1(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    uint32_t rounded = (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
    return (u & 0x7FFFFFFFu) > 0x7F800000u ? (uint16_t)((u >> 16) | 0x40u) : (uint16_t)rounded;
}

#define RT_BF16_PAR_MIN 65536

void rt_bf16_round_array(uint16_t *dst, const float *src, size_t n) {
#pragma omp parallel for if (n > RT_BF16_PAR_MIN)
    for (size_t i = 0; i < n; i++) dst[i] = f32_to_bf16_1(src[i]);
}

void rt_bf16_widen_array(float *dst, const uint16_t *src, size_t n) {
#pragma omp parallel for if (n > RT_BF16_PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        uint32_t u = (uint32_t)src[i] << 16;
        memcpy(&dst[i], &u, sizeof u);
    }
}

#ifdef RT_HAVE_DNNL

#include <dnnl.h>
#include <pthread.h>

/* Distinct shapes of one training run: 7 projections x forward/backward, lm_head, times the batch
 * shapes in use. Past this many the oldest entry is replaced. */
#define RT_BF16_CACHE_SIZE 96

typedef struct {
    int used;
    int M, N, K, trans_b, accumulate;
    uint64_t last_use;
    dnnl_primitive_t prim;
    dnnl_memory_t a, b, c;
} prim_entry;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static dnnl_engine_t g_engine;
static dnnl_stream_t g_stream;
static dnnl_status_t g_init_status = dnnl_runtime_error;
static prim_entry g_cache[RT_BF16_CACHE_SIZE];
static uint64_t g_clock;

static void dnnl_init_once(void) {
    g_init_status = dnnl_engine_create(&g_engine, dnnl_cpu, 0);
    if (g_init_status == dnnl_success) g_init_status = dnnl_stream_create(&g_stream, g_engine, dnnl_stream_default_flags);
}

int rt_bf16_built(void) {
    pthread_once(&g_once, dnnl_init_once);
    return g_init_status == dnnl_success;
}

int rt_bf16_native(void) {
    if (!rt_bf16_built()) return 0;
    /* Below AVX512-BF16 oneDNN emulates bf16 products, slower than the float32 path. The ISA values are
     * bit sets, each a superset of the ones below it. */
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    return ((unsigned)isa & (unsigned)dnnl_cpu_isa_avx512_core_bf16) == (unsigned)dnnl_cpu_isa_avx512_core_bf16;
}

static void entry_destroy(prim_entry *e) {
    if (!e->used) return;
    dnnl_primitive_destroy(e->prim);
    dnnl_memory_destroy(e->a);
    dnnl_memory_destroy(e->b);
    dnnl_memory_destroy(e->c);
    memset(e, 0, sizeof *e);
}

/* Builds the primitive and its memory objects for one shape (data handles are set per call). */
static rt_status entry_create(prim_entry *e, int M, int N, int K, int trans_b, int accumulate) {
    dnnl_memory_desc_t a_md, b_md, c_md;
    dnnl_dims_t a_dims = {M, K}, b_dims = {K, N}, c_dims = {M, N};
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t ops = NULL;
    dnnl_status_t st = dnnl_memory_desc_init_by_tag(&a_md, 2, a_dims, dnnl_bf16, dnnl_ab);
    /* B^T of a row-major (N,K) matrix is the (K,N) matrix stored column-major: tag "ba". */
    if (st == dnnl_success) st = dnnl_memory_desc_init_by_tag(&b_md, 2, b_dims, dnnl_bf16, trans_b ? dnnl_ba : dnnl_ab);
    if (st == dnnl_success) st = dnnl_memory_desc_init_by_tag(&c_md, 2, c_dims, dnnl_f32, dnnl_ab);
    dnnl_matmul_desc_t desc;
    if (st == dnnl_success) st = dnnl_matmul_desc_init(&desc, &a_md, &b_md, NULL, &c_md);
    if (st == dnnl_success) st = dnnl_primitive_attr_create(&attr);
    if (st == dnnl_success && accumulate) {
        /* C += A B is C = A B + 1.0 * C: oneDNN's "sum" post-op. */
        st = dnnl_post_ops_create(&ops);
        if (st == dnnl_success) st = dnnl_post_ops_append_sum(ops, 1.0f);
        if (st == dnnl_success) st = dnnl_primitive_attr_set_post_ops(attr, ops);
    }
    if (st == dnnl_success) st = dnnl_primitive_desc_create(&pd, &desc, attr, g_engine, NULL);
    if (st == dnnl_success) st = dnnl_primitive_create(&e->prim, pd);
    if (st == dnnl_success) st = dnnl_memory_create(&e->a, &a_md, g_engine, DNNL_MEMORY_NONE);
    if (st == dnnl_success) st = dnnl_memory_create(&e->b, &b_md, g_engine, DNNL_MEMORY_NONE);
    if (st == dnnl_success) st = dnnl_memory_create(&e->c, &c_md, g_engine, DNNL_MEMORY_NONE);
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (ops) dnnl_post_ops_destroy(ops);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (st != dnnl_success) {
        e->used = 1;
        entry_destroy(e);
        return rt_fail(RT_ERR_UNSUPPORTED, "bf16 matmul %dx%d @ %dx%d: oneDNN refused it (status %d)", M, K, K, N,
                       (int)st);
    }
    e->used = 1, e->M = M, e->N = N, e->K = K, e->trans_b = trans_b, e->accumulate = accumulate;
    return RT_OK;
}

/* The cached entry for a shape, created when missing; called with g_lock held. */
static rt_status entry_get(int M, int N, int K, int trans_b, int accumulate, prim_entry **out) {
    prim_entry *victim = &g_cache[0];
    for (int i = 0; i < RT_BF16_CACHE_SIZE; i++) {
        prim_entry *e = &g_cache[i];
        if (e->used && e->M == M && e->N == N && e->K == K && e->trans_b == trans_b && e->accumulate == accumulate) {
            e->last_use = ++g_clock;
            *out = e;
            return RT_OK;
        }
        if (!e->used) {
            if (victim->used) victim = e;
        } else if (victim->used && e->last_use < victim->last_use) {
            victim = e;
        }
    }
    entry_destroy(victim);
    RT_TRY(entry_create(victim, M, N, K, trans_b, accumulate));
    victim->last_use = ++g_clock;
    *out = victim;
    return RT_OK;
}

rt_status rt_gemm_bf16(int trans_b, int M, int N, int K, const uint16_t *A, const uint16_t *B, float *C,
                       int accumulate) {
    if (M <= 0 || N <= 0 || K <= 0) return rt_fail(RT_ERR_ARG, "bf16 matmul: empty shape %dx%d @ %dx%d", M, K, K, N);
    pthread_once(&g_once, dnnl_init_once);
    if (g_init_status != dnnl_success)
        return rt_fail(RT_ERR_UNSUPPORTED, "bf16 matmul: oneDNN has no CPU engine (status %d)", (int)g_init_status);
    pthread_mutex_lock(&g_lock);
    prim_entry *e = NULL;
    rt_status s = entry_get(M, N, K, trans_b ? 1 : 0, accumulate ? 1 : 0, &e);
    dnnl_status_t st = dnnl_success;
    if (s == RT_OK) {
        /* oneDNN takes non-const handles; it only reads A and B. */
        st = dnnl_memory_set_data_handle(e->a, (void *)(uintptr_t)A);
        if (st == dnnl_success) st = dnnl_memory_set_data_handle(e->b, (void *)(uintptr_t)B);
        if (st == dnnl_success) st = dnnl_memory_set_data_handle(e->c, C);
        dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, e->a}, {DNNL_ARG_WEIGHTS, e->b}, {DNNL_ARG_DST, e->c}};
        if (st == dnnl_success) st = dnnl_primitive_execute(e->prim, g_stream, 3, args);
        if (st == dnnl_success) st = dnnl_stream_wait(g_stream);
    }
    pthread_mutex_unlock(&g_lock);
    RT_TRY(s);
    if (st != dnnl_success)
        return rt_fail(RT_ERR_UNSUPPORTED, "bf16 matmul %dx%d @ %dx%d failed in oneDNN (status %d)", M, K, K, N, (int)st);
    return RT_OK;
}

void rt_bf16_release(void) {
    pthread_mutex_lock(&g_lock);
    for (int i = 0; i < RT_BF16_CACHE_SIZE; i++) entry_destroy(&g_cache[i]);
    pthread_mutex_unlock(&g_lock);
}

#else /* without oneDNN */

int rt_bf16_built(void) { return 0; }

int rt_bf16_native(void) { return 0; }

rt_status rt_gemm_bf16(int trans_b, int M, int N, int K, const uint16_t *A, const uint16_t *B, float *C,
                       int accumulate) {
    (void)trans_b, (void)A, (void)B, (void)C, (void)accumulate;
    return rt_fail(RT_ERR_UNSUPPORTED, "bf16 matmul %dx%d @ %dx%d: retrace was built without oneDNN (install libdnnl-dev and rebuild)",
                   M, K, K, N);
}

void rt_bf16_release(void) {}

#endif

rt_status rt_matmul_forward_bf16(float *out, const uint16_t *inp, const uint16_t *weight, const float *bias, int N,
                                 int C, int OC, int accumulate) {
    RT_TRY(rt_gemm_bf16(1, N, OC, C, inp, weight, out, accumulate));
    if (!bias) return RT_OK;
#pragma omp parallel for if ((size_t)N * OC > 65536)
    for (int n = 0; n < N; n++) {
        float *o = out + (size_t)n * OC;
        for (int j = 0; j < OC; j++) o[j] += bias[j];
    }
    return RT_OK;
}

rt_status rt_matmul_backward_bf16(float *dinp, const uint16_t *dout, const uint16_t *weight, int N, int C, int OC) {
    return rt_gemm_bf16(0, N, C, OC, dout, weight, dinp, 1);
}
