/* pointwise.c: SwiGLU, embedding lookup, dropout and axpy. */
#include <math.h>
#include <string.h>

#include "retrace/tensor.h"
#include "tensor/simd_math.h"

void rt_swiglu_forward(float *h, const float *gate, const float *up, size_t n) {
#pragma omp parallel for if (n > 65536)
    for (size_t i = 0; i < n; i++) {
        float g = gate[i];
        h[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

void rt_swiglu_backward(float *dgate, float *dup, const float *dh, const float *gate, const float *up, size_t n) {
    /* silu(g) = g s(g), silu'(g) = s(g) (1 + g (1 - s(g))) */
#pragma omp parallel for if (n > 65536)
    for (size_t i = 0; i < n; i++) {
        /* dh is read once up front, so dup or dgate may alias dh. */
        float g = gate[i], d = dh[i], u = up[i];
        float sg = 1.0f / (1.0f + expf(-g));
        dup[i] = d * g * sg;
        dgate[i] = d * u * sg * (1.0f + g * (1.0f - sg));
    }
}

void rt_swiglu_forward_fast(float *h, const float *gate, const float *up, size_t n) {
#pragma omp parallel for simd if (n > 65536)
    for (size_t i = 0; i < n; i++) {
        float g = gate[i];
        h[i] = g / (1.0f + rt_fast_expf(-g)) * up[i];
    }
}

void rt_swiglu_backward_fast(float *dgate, float *dup, const float *dh, const float *gate, const float *up, size_t n) {
    /* simd: iterations are independent even when dup or dgate alias dh (each reads its own dh[i] before
     * writing index i), which the compiler cannot prove, and would otherwise run this scalar. */
#pragma omp parallel for simd if (n > 65536)
    for (size_t i = 0; i < n; i++) {
        float g = gate[i], d = dh[i], u = up[i];
        float sg = 1.0f / (1.0f + rt_fast_expf(-g));
        dup[i] = d * g * sg;
        dgate[i] = d * u * sg * (1.0f + g * (1.0f - sg));
    }
}

void rt_embedding_forward(float *out, const int32_t *ids, const float *table, int N, int C) {
#pragma omp parallel for if ((size_t)N * C > 65536)
    for (int n = 0; n < N; n++) memcpy(out + (size_t)n * C, table + (size_t)ids[n] * C, sizeof(float) * C);
}

void rt_embedding_backward(float *dtable, const float *dout, const int32_t *ids, int N, int C) {
    /* Sequential over tokens: the same id may repeat, and the scatter must not race. */
    for (int n = 0; n < N; n++) rt_axpy(dtable + (size_t)ids[n] * C, dout + (size_t)n * C, 1.0f, (size_t)C);
}

void rt_axpy(float *y, const float *x, float a, size_t n) {
#pragma omp parallel for simd if (n > 262144)
    for (size_t i = 0; i < n; i++) y[i] += a * x[i];
}

/* Each element's draw is a counter-based hash (rt_mix64), so it does not depend on thread order. */

void rt_dropout_apply(float *x, size_t n, float p, uint64_t seed) {
    if (p <= 0.0f) return;
    float keep_scale = 1.0f / (1.0f - p);
    uint64_t threshold = (uint64_t)((double)p * 18446744073709551616.0);
#pragma omp parallel for if (n > 65536)
    for (size_t i = 0; i < n; i++) x[i] = rt_mix64((seed ^ (i * 0xD1B54A32D192ED03ull)) + RT_GOLDEN_GAMMA) < threshold ? 0.0f : x[i] * keep_scale;
}
