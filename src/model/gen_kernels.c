/* gen_kernels.c: picks the inference kernels' variant once, at the first call: AVX2+FMA where the CPU
 * has both (and RETRACE_SIMD does not cap them), else the portable build. A portable binary thus runs
 * on any x86-64 and still decodes with 8-lane FMAs where it can. */
#include "model/gen_internal.h"

#include <pthread.h>

void rt_gen_linear_avx2(float *out, int ldo, const float *x, int N, int K, const float *w, const uint16_t *wb,
                        const float *bias, int O, int accumulate);
void rt_gen_linear_generic(float *out, int ldo, const float *x, int N, int K, const float *w, const uint16_t *wb,
                           const float *bias, int O, int accumulate);
void rt_gen_attend_group_avx2(float *o, const float *q, int G, const float *k, const float *v, int kv_stride, int lo,
                              int pos, int hd, float *scores);
void rt_gen_attend_group_generic(float *o, const float *q, int G, const float *k, const float *v, int kv_stride,
                                 int lo, int pos, int hd, float *scores);

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static int g_avx2;

static void choose(void) {
#if defined(__x86_64__) && defined(RT_GEN_HAVE_AVX2)
    __builtin_cpu_init();
    g_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && rt_simd_allowed(RT_SIMD_AVX2);
#endif
}

int rt_gen_kernels_avx2(void) {
    pthread_once(&g_once, choose);
    return g_avx2;
}

void rt_gen_linear(float *out, int ldo, const float *x, int N, int K, const float *w, const uint16_t *wb,
                   const float *bias, int O, int accumulate) {
    if (rt_gen_kernels_avx2()) rt_gen_linear_avx2(out, ldo, x, N, K, w, wb, bias, O, accumulate);
    else rt_gen_linear_generic(out, ldo, x, N, K, w, wb, bias, O, accumulate);
}

void rt_gen_attend_group(float *o, const float *q, int G, const float *k, const float *v, int kv_stride, int lo,
                         int pos, int hd, float *scores) {
    if (rt_gen_kernels_avx2()) rt_gen_attend_group_avx2(o, q, G, k, v, kv_stride, lo, pos, hd, scores);
    else rt_gen_attend_group_generic(o, q, G, k, v, kv_stride, lo, pos, hd, scores);
}
