/* matmul_bf16.c: products through oneDNN's matmul: bfloat16 inputs with float32 accumulation and
 * output (AMX or AVX512-BF16 kernels) for the frozen base of LoRA training, and float32 for the skinny
 * adapter products, where oneDNN beats OpenBLAS.
 *
 * A oneDNN primitive is compiled for one exact shape (a runtime-sized M falls back to a kernel without
 * AMX, measured 3x slower), so primitives are cached per shape, layout, scale and accumulation. Without
 * oneDNN (RT_HAVE_DNNL undefined) the conversions still work and the products fail with a clear error. */
#include <string.h>

#include "retrace/tensor.h"
#include "tensor/simd_math.h"

#define RT_BF16_PAR_MIN 65536

void rt_bf16_round_array(uint16_t *dst, const float *src, size_t n) {
#pragma omp parallel for if (n > RT_BF16_PAR_MIN)
    for (size_t i = 0; i < n; i++) dst[i] = rt_bf16_round1(src[i]);
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

/* Distinct products of one training run: the base's 7 projections forward and backward and the lm_head,
 * six adapter products per projection shape, the attention blocks; times the batch shapes in use. Past
 * this many the least recently used entry is replaced. */
#define RT_DNNL_CACHE_SIZE 256

typedef struct {
    int used;
    int bf16, trans_a, trans_b, M, N, K, lda, ldb, ldc, accumulate;
    float alpha;
    uint64_t last_use;
    dnnl_primitive_t prim;
    dnnl_memory_t a, b, c;
} prim_entry;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static dnnl_engine_t g_engine;
static dnnl_stream_t g_stream;
static dnnl_status_t g_init_status = dnnl_runtime_error;
static prim_entry g_cache[RT_DNNL_CACHE_SIZE];
static uint64_t g_clock;

static int g_bf16_ok; /* oneDNN has a bf16 matmul for this CPU (probed once) */

static dnnl_status_t matrix_md(dnnl_memory_desc_t *md, int rows, int cols, int ld, int trans, dnnl_data_type_t dt);

/* Whether oneDNN implements a bf16 x bf16 -> f32 matmul here: some builds have none below AVX512 (they
 * answer dnnl_unimplemented), so ask for the descriptor of a small one instead of failing mid-training. */
static int probe_bf16(void) {
    enum { N = 16 };
    dnnl_memory_desc_t a, b, c;
    dnnl_matmul_desc_t desc;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t st = matrix_md(&a, N, N, N, 0, dnnl_bf16);
    if (st == dnnl_success) st = matrix_md(&b, N, N, N, 0, dnnl_bf16);
    if (st == dnnl_success) st = matrix_md(&c, N, N, N, 0, dnnl_f32);
    if (st == dnnl_success) st = dnnl_matmul_desc_init(&desc, &a, &b, NULL, &c);
    if (st == dnnl_success) st = dnnl_primitive_desc_create(&pd, &desc, NULL, g_engine, NULL);
    if (pd) dnnl_primitive_desc_destroy(pd);
    return st == dnnl_success;
}

static void dnnl_init_once(void) {
    g_init_status = dnnl_engine_create(&g_engine, dnnl_cpu, 0);
    if (g_init_status == dnnl_success) g_init_status = dnnl_stream_create(&g_stream, g_engine, dnnl_stream_default_flags);
    if (g_init_status == dnnl_success) g_bf16_ok = probe_bf16();
}

int rt_bf16_built(void) {
    pthread_once(&g_once, dnnl_init_once);
    return g_init_status == dnnl_success;
}

int rt_bf16_supported(void) { return rt_bf16_built() && g_bf16_ok; }

int rt_bf16_native(void) {
    if (!rt_bf16_built()) return 0;
    /* Below AVX512-BF16 oneDNN emulates bf16 products, slower than the float32 path. The ISA values are
     * bit sets, each a superset of the ones below it. */
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    return ((unsigned)isa & (unsigned)dnnl_cpu_isa_avx512_core_bf16) == (unsigned)dnnl_cpu_isa_avx512_core_bf16;
}

static void entry_destroy(prim_entry *e) {
    if (!e->used) return;
    if (e->prim) dnnl_primitive_destroy(e->prim);
    if (e->a) dnnl_memory_destroy(e->a);
    if (e->b) dnnl_memory_destroy(e->b);
    if (e->c) dnnl_memory_destroy(e->c);
    memset(e, 0, sizeof *e);
}

/* A row-major (rows, cols) matrix with leading dimension ld, read transposed when trans: oneDNN's
 * descriptor of op(X) by strides, so no copy is made. */
static dnnl_status_t matrix_md(dnnl_memory_desc_t *md, int rows, int cols, int ld, int trans, dnnl_data_type_t dt) {
    dnnl_dims_t dims = {rows, cols};
    dnnl_dims_t strides = {trans ? 1 : ld, trans ? ld : 1};
    return dnnl_memory_desc_init_by_strides(md, 2, dims, dt, strides);
}

/* Builds the primitive and its memory objects for the key already stored in e (data handles are set
 * per call). */
static rt_status entry_create(prim_entry *e) {
    dnnl_data_type_t in_dt = e->bf16 ? dnnl_bf16 : dnnl_f32;
    dnnl_memory_desc_t a_md, b_md, c_md;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t ops = NULL;
    dnnl_status_t st = matrix_md(&a_md, e->M, e->K, e->lda, e->trans_a, in_dt);
    if (st == dnnl_success) st = matrix_md(&b_md, e->K, e->N, e->ldb, e->trans_b, in_dt);
    if (st == dnnl_success) st = matrix_md(&c_md, e->M, e->N, e->ldc, 0, dnnl_f32);
    dnnl_matmul_desc_t desc;
    if (st == dnnl_success) st = dnnl_matmul_desc_init(&desc, &a_md, &b_md, NULL, &c_md);
    if (st == dnnl_success) st = dnnl_primitive_attr_create(&attr);
    if (st == dnnl_success && e->alpha != 1.0f) st = dnnl_primitive_attr_set_output_scales(attr, 1, 0, &e->alpha);
    if (st == dnnl_success && e->accumulate) {
        /* C += alpha A B is C = alpha A B + 1.0 * C: oneDNN's "sum" post-op after the output scale. */
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
        int M = e->M, N = e->N, K = e->K;
        entry_destroy(e);
        return rt_fail(RT_ERR_UNSUPPORTED, "oneDNN matmul %dx%d @ %dx%d: refused (status %d)", M, K, K, N, (int)st);
    }
    return RT_OK;
}

static int same_key(const prim_entry *a, const prim_entry *b) {
    return a->bf16 == b->bf16 && a->trans_a == b->trans_a && a->trans_b == b->trans_b && a->M == b->M && a->N == b->N &&
           a->K == b->K && a->lda == b->lda && a->ldb == b->ldb && a->ldc == b->ldc && a->accumulate == b->accumulate &&
           a->alpha == b->alpha;
}

/* The cached entry for a key, created when missing; called with g_lock held. */
static rt_status entry_get(const prim_entry *key, prim_entry **out) {
    prim_entry *victim = &g_cache[0];
    for (int i = 0; i < RT_DNNL_CACHE_SIZE; i++) {
        prim_entry *e = &g_cache[i];
        if (e->used && same_key(e, key)) {
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
    *victim = *key;
    victim->used = 1;
    RT_TRY(entry_create(victim));
    victim->last_use = ++g_clock;
    *out = victim;
    return RT_OK;
}

/* C (M,N) (+)= alpha op(A) op(B) with leading dimensions, inputs bf16 or float32, output float32. */
static rt_status gemm_onednn(int bf16, int trans_a, int trans_b, int M, int N, int K, float alpha, const void *A,
                             int lda, const void *B, int ldb, int accumulate, float *C, int ldc) {
    if (M <= 0 || N <= 0 || K <= 0) return rt_fail(RT_ERR_ARG, "oneDNN matmul: empty shape %dx%d @ %dx%d", M, K, K, N);
    pthread_once(&g_once, dnnl_init_once);
    if (g_init_status != dnnl_success)
        return rt_fail(RT_ERR_UNSUPPORTED, "oneDNN matmul: no CPU engine (status %d)", (int)g_init_status);
    prim_entry key = {.bf16 = !!bf16, .trans_a = !!trans_a, .trans_b = !!trans_b, .M = M, .N = N, .K = K,
                      .lda = lda, .ldb = ldb, .ldc = ldc, .accumulate = !!accumulate, .alpha = alpha};
    pthread_mutex_lock(&g_lock);
    prim_entry *e = NULL;
    rt_status s = entry_get(&key, &e);
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
        return rt_fail(RT_ERR_UNSUPPORTED, "oneDNN matmul %dx%d @ %dx%d failed (status %d)", M, K, K, N, (int)st);
    return RT_OK;
}

rt_status rt_gemm_bf16(int trans_b, int M, int N, int K, const uint16_t *A, const uint16_t *B, float *C,
                       int accumulate) {
    return gemm_onednn(1, 0, trans_b, M, N, K, 1.0f, A, K, B, trans_b ? K : N, accumulate, C, N);
}

rt_status rt_gemm_bf16_ex(int trans_a, int trans_b, int M, int N, int K, float alpha, const uint16_t *A, int lda,
                          const uint16_t *B, int ldb, float beta, float *C, int ldc) {
    if (beta != 0.0f && beta != 1.0f) return rt_fail(RT_ERR_ARG, "bf16 gemm: beta must be 0 or 1 (got %g)", beta);
    return gemm_onednn(1, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta == 1.0f, C, ldc);
}

rt_status rt_sgemm_onednn(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
                          const float *B, int ldb, float beta, float *C, int ldc) {
    if (beta != 0.0f && beta != 1.0f) return rt_fail(RT_ERR_ARG, "oneDNN sgemm: beta must be 0 or 1 (got %g)", beta);
    return gemm_onednn(0, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta == 1.0f, C, ldc);
}

void rt_bf16_release(void) {
    pthread_mutex_lock(&g_lock);
    for (int i = 0; i < RT_DNNL_CACHE_SIZE; i++) entry_destroy(&g_cache[i]);
    pthread_mutex_unlock(&g_lock);
}

#else /* without oneDNN */

int rt_bf16_built(void) { return 0; }

int rt_bf16_native(void) { return 0; }
int rt_bf16_supported(void) { return 0; }

rt_status rt_gemm_bf16(int trans_b, int M, int N, int K, const uint16_t *A, const uint16_t *B, float *C,
                       int accumulate) {
    (void)trans_b, (void)A, (void)B, (void)C, (void)accumulate;
    return rt_fail(RT_ERR_UNSUPPORTED, "bf16 matmul %dx%d @ %dx%d: retrace was built without oneDNN (install libdnnl-dev and rebuild)",
                   M, K, K, N);
}

rt_status rt_gemm_bf16_ex(int trans_a, int trans_b, int M, int N, int K, float alpha, const uint16_t *A, int lda,
                          const uint16_t *B, int ldb, float beta, float *C, int ldc) {
    (void)trans_a, (void)trans_b, (void)alpha, (void)A, (void)lda, (void)B, (void)ldb, (void)beta, (void)C, (void)ldc;
    return rt_fail(RT_ERR_UNSUPPORTED, "bf16 gemm %dx%d @ %dx%d: retrace was built without oneDNN", M, K, K, N);
}

rt_status rt_sgemm_onednn(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
                          const float *B, int ldb, float beta, float *C, int ldc) {
    (void)trans_a, (void)trans_b, (void)alpha, (void)A, (void)lda, (void)B, (void)ldb, (void)beta, (void)C, (void)ldc;
    return rt_fail(RT_ERR_UNSUPPORTED, "oneDNN sgemm %dx%d @ %dx%d: retrace was built without oneDNN", M, K, K, N);
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
