/* attention.c: causal grouped-query attention (with an optional sliding window), forward and backward.
 *
 * Per (batch, head) the scores are one sgemm over strided views of q and k, so no transposed copies
 * are made. The full T x T product is computed and the masked half zeroed; the probabilities are kept
 * for the backward pass. */
#include <math.h>
#include <string.h>

#include "retrace/tensor.h"

/* First key position visible from query i. */
static int first_visible(int i, int window) { return (window > 0 && i - window + 1 > 0) ? i - window + 1 : 0; }

/* Masked softmax of row i of S (length T) in place: keys outside [lo, i] get probability 0. */
static void softmax_row(float *row, int i, int window, int T) {
    int lo = first_visible(i, window);
    float mx = -INFINITY;
    for (int j = lo; j <= i; j++) mx = row[j] > mx ? row[j] : mx;
    float sum = 0.0f;
    for (int j = lo; j <= i; j++) {
        row[j] = expf(row[j] - mx);
        sum += row[j];
    }
    float inv = 1.0f / sum;
    for (int j = 0; j < lo; j++) row[j] = 0.0f;
    for (int j = lo; j <= i; j++) row[j] *= inv;
    for (int j = i + 1; j < T; j++) row[j] = 0.0f;
}

void rt_attention_forward(float *out, float *probs, const float *q, const float *k, const float *v,
                          const rt_attn_shape *s) {
    int T = s->T, hd = s->head_dim, nh = s->n_heads, nkv = s->n_kv_heads;
    int qs = nh * hd, ks = nkv * hd, group = nh / nkv;
    float scale = 1.0f / sqrtf((float)hd);
    float *tmp = probs ? NULL : rt_alloc_floats((size_t)T * T);
    for (int b = 0; b < s->B; b++)
        for (int h = 0; h < nh; h++) {
            const float *qb = q + (size_t)b * T * qs + (size_t)h * hd;
            const float *kb = k + (size_t)b * T * ks + (size_t)(h / group) * hd;
            const float *vb = v + (size_t)b * T * ks + (size_t)(h / group) * hd;
            float *P = probs ? probs + ((size_t)b * nh + h) * T * T : tmp;
            rt_sgemm(0, 1, T, T, hd, scale, qb, qs, kb, ks, 0.0f, P, T);
#pragma omp parallel for if ((size_t)T * T > 16384)
            for (int i = 0; i < T; i++) softmax_row(P + (size_t)i * T, i, s->window, T);
            rt_sgemm(0, 0, T, hd, T, 1.0f, P, T, vb, ks, 0.0f, out + (size_t)b * T * qs + (size_t)h * hd, qs);
        }
    rt_free_aligned(tmp);
}

void rt_attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *probs, const float *q,
                           const float *k, const float *v, const rt_attn_shape *s, float *scratch) {
    int T = s->T, hd = s->head_dim, nh = s->n_heads, nkv = s->n_kv_heads;
    int qs = nh * hd, ks = nkv * hd, group = nh / nkv;
    float scale = 1.0f / sqrtf((float)hd);
    memset(dk, 0, sizeof(float) * (size_t)s->B * T * ks);
    memset(dv, 0, sizeof(float) * (size_t)s->B * T * ks);
    for (int b = 0; b < s->B; b++)
        for (int h = 0; h < nh; h++) {
            size_t qoff = (size_t)b * T * qs + (size_t)h * hd;
            size_t koff = (size_t)b * T * ks + (size_t)(h / group) * hd;
            const float *P = probs + ((size_t)b * nh + h) * T * T;
            float *dP = scratch;
            /* dP = dO V^T, dV += P^T dO */
            rt_sgemm(0, 1, T, T, hd, 1.0f, dout + qoff, qs, v + koff, ks, 0.0f, dP, T);
            rt_sgemm(1, 0, T, hd, T, 1.0f, P, T, dout + qoff, qs, 1.0f, dv + koff, ks);
            /* softmax backward: dS = P * (dP - sum_j P dP); masked entries have P = 0 and stay 0. */
#pragma omp parallel for if ((size_t)T * T > 16384)
            for (int i = 0; i < T; i++) {
                const float *p = P + (size_t)i * T;
                float *d = dP + (size_t)i * T;
                float dot = 0.0f;
                for (int j = 0; j <= i; j++) dot += p[j] * d[j];
                for (int j = 0; j <= i; j++) d[j] = p[j] * (d[j] - dot);
                for (int j = i + 1; j < T; j++) d[j] = 0.0f;
            }
            /* dQ = scale dS K, dK += scale dS^T Q */
            rt_sgemm(0, 0, T, hd, T, scale, dP, T, k + koff, ks, 0.0f, dq + qoff, qs);
            rt_sgemm(1, 0, T, hd, T, scale, dP, T, q + qoff, qs, 1.0f, dk + koff, ks);
        }
}

void rt_attention_forward_ref(float *out, float *probs, const float *q, const float *k, const float *v,
                              const rt_attn_shape *s) {
    int T = s->T, hd = s->head_dim, nh = s->n_heads, nkv = s->n_kv_heads;
    int group = nh / nkv;
    double scale = 1.0 / sqrt((double)hd);
    for (int b = 0; b < s->B; b++)
        for (int h = 0; h < nh; h++)
            for (int i = 0; i < T; i++) {
                const float *qi = q + (((size_t)b * T + i) * nh + h) * hd;
                double w[T > 0 ? T : 1];
                double mx = -INFINITY, sum = 0.0;
                int lo = first_visible(i, s->window);
                for (int j = lo; j <= i; j++) {
                    const float *kj = k + (((size_t)b * T + j) * nkv + h / group) * hd;
                    double d = 0.0;
                    for (int c = 0; c < hd; c++) d += (double)qi[c] * kj[c];
                    w[j] = d * scale;
                    if (w[j] > mx) mx = w[j];
                }
                for (int j = lo; j <= i; j++) sum += (w[j] = exp(w[j] - mx));
                float *o = out + (((size_t)b * T + i) * nh + h) * hd;
                for (int c = 0; c < hd; c++) o[c] = 0.0f;
                for (int j = 0; j < T; j++) {
                    double p = (j >= lo && j <= i) ? w[j] / sum : 0.0;
                    if (probs) probs[(((size_t)b * nh + h) * T + i) * T + j] = (float)p;
                    if (p == 0.0) continue;
                    const float *vj = v + (((size_t)b * T + j) * nkv + h / group) * hd;
                    for (int c = 0; c < hd; c++) o[c] += (float)(p * vj[c]);
                }
            }
}
