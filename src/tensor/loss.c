/* loss.c: softmax cross-entropy over the vocabulary with ignored positions (target -1). */
#include <math.h>
#include <string.h>

#include "retrace/tensor.h"

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
