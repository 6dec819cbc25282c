/* loss.c: softmax cross-entropy over the vocabulary with ignored positions (target -1). */
#include <math.h>
#include <string.h>

#include "retrace/tensor.h"
#include "tensor/simd_math.h"

/* log(sum(exp(z))) of one row, stable. */
static double row_logsumexp(const float *z, int V) {
    float mx = -INFINITY;
    for (int i = 0; i < V; i++) mx = z[i] > mx ? z[i] : mx;
    double s = 0.0;
    for (int i = 0; i < V; i++) s += exp((double)(z[i] - mx));
    return mx + log(s);
}

float rt_cross_entropy_forward(const float *logits, const int32_t *targets, int N, int V, int *n_valid) {
    double total = 0.0;
    int count = 0;
#pragma omp parallel for reduction(+ : total, count) if ((size_t)N * V > 65536)
    for (int n = 0; n < N; n++) {
        if (targets[n] < 0) continue;
        const float *z = logits + (size_t)n * V;
        total += row_logsumexp(z, V) - z[targets[n]];
        count++;
    }
    if (n_valid) *n_valid = count;
    return count ? (float)(total / count) : 0.0f;
}

void rt_cross_entropy_backward(float *dlogits, const float *logits, const int32_t *targets, int N, int V,
                               float scale) {
#pragma omp parallel for if ((size_t)N * V > 65536)
    for (int n = 0; n < N; n++) {
        const float *z = logits + (size_t)n * V;
        float *d = dlogits + (size_t)n * V;
        if (targets[n] < 0) {
            memset(d, 0, sizeof(float) * V);
            continue;
        }
        float lse = (float)row_logsumexp(z, V);
        for (int i = 0; i < V; i++) d[i] = scale * expf(z[i] - lse);
        d[targets[n]] -= scale;
    }
}

/* log(sum(exp(z))) of one row with the vectorised exp; float lanes summed, error ~1e-6 relative. */
static float row_logsumexp_fast(const float *z, int V) {
    float mx = -INFINITY;
    for (int i = 0; i < V; i++) mx = z[i] > mx ? z[i] : mx;
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int i = 0; i < V; i++) s += rt_fast_expf(z[i] - mx);
    return mx + logf(s);
}

float rt_cross_entropy_forward_fast(const float *logits, const int32_t *targets, int N, int V, int *n_valid,
                                    float *lse) {
    double total = 0.0;
    int count = 0;
#pragma omp parallel for reduction(+ : total, count) if ((size_t)N * V > 65536)
    for (int n = 0; n < N; n++) {
        if (targets[n] < 0) {
            lse[n] = 0.0f;
            continue;
        }
        const float *z = logits + (size_t)n * V;
        lse[n] = row_logsumexp_fast(z, V);
        total += (double)lse[n] - z[targets[n]];
        count++;
    }
    if (n_valid) *n_valid = count;
    return count ? (float)(total / count) : 0.0f;
}

void rt_cross_entropy_backward_bf16(uint16_t *dlogits, const float *logits, const float *lse, const int32_t *targets,
                                    int N, int V, float scale) {
#pragma omp parallel for if ((size_t)N * V > 65536)
    for (int n = 0; n < N; n++) {
        uint16_t *d = dlogits + (size_t)n * V;
        if (targets[n] < 0) {
            memset(d, 0, sizeof(uint16_t) * V);
            continue;
        }
        const float *z = logits + (size_t)n * V;
        float m = lse[n];
#pragma omp simd
        for (int i = 0; i < V; i++) d[i] = rt_bf16_round1(scale * rt_fast_expf(z[i] - m));
        d[targets[n]] = rt_bf16_round1(scale * rt_fast_expf(z[targets[n]] - m) - scale);
    }
}
