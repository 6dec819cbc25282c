/* attention.c: causal grouped-query attention (with an optional sliding window), forward and backward.
 *
 * Per (batch, head, block of query rows) the scores are sgemms over strided views of q and k, so no
 * transposed copies are made, and only the keys a block can see are multiplied (the masked upper
 * triangle, and keys left of a sliding window, are skipped block-wise). The probabilities are kept for
 * the backward pass. */
#include <math.h>
#include <string.h>

#include "retrace/tensor.h"
#include "tensor/attn_internal.h"

/* Queries are processed in blocks of this many rows: a block only multiplies the keys it can see (up to
 * its last row, from the first key its first row's window reaches), which skips the masked half. */
#define RT_ATTN_ROW_BLOCK 64

void rt_attention_forward(float *out, float *probs, const float *q, const float *k, const float *v,
                          const rt_attn_shape *s) {
    int T = s->T, hd = s->head_dim, nh = s->n_heads, nkv = s->n_kv_heads;
    int qs = nh * hd, ks = nkv * hd, group = nh / nkv;
    float scale = 1.0f / sqrtf((float)hd);
    int block = RT_ATTN_ROW_BLOCK;
    float *tmp = probs ? NULL : rt_alloc_floats((size_t)T * T);
    for (int b = 0; b < s->B; b++)
        for (int h = 0; h < nh; h++) {
            const float *qb = q + (size_t)b * T * qs + (size_t)h * hd;
            const float *kb = k + (size_t)b * T * ks + (size_t)(h / group) * hd;
            const float *vb = v + (size_t)b * T * ks + (size_t)(h / group) * hd;
            float *ob = out + (size_t)b * T * qs + (size_t)h * hd;
            float *P = probs ? probs + ((size_t)b * nh + h) * T * T : tmp;
            for (int r0 = 0; r0 < T; r0 += block) {
                int rows = T - r0 < block ? T - r0 : block;
                int c0 = first_visible(r0, s->window), c1 = r0 + rows;
                float *Pb = P + (size_t)r0 * T;
                rt_sgemm(0, 1, rows, c1 - c0, hd, scale, qb + (size_t)r0 * qs, qs, kb + (size_t)c0 * ks, ks, 0.0f, Pb + c0, T);
#pragma omp parallel for if ((size_t)rows * T > 16384)
                for (int i = 0; i < rows; i++) softmax_row(Pb + (size_t)i * T, r0 + i, s->window, T, 0);
                rt_sgemm(0, 0, rows, hd, c1 - c0, 1.0f, Pb + c0, T, vb + (size_t)c0 * ks, ks, 0.0f, ob + (size_t)r0 * qs, qs);
            }
        }
    rt_free_aligned(tmp);
}

void rt_attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *probs, const float *q,
                           const float *k, const float *v, const rt_attn_shape *s, float *scratch) {
    int T = s->T, hd = s->head_dim, nh = s->n_heads, nkv = s->n_kv_heads;
    int qs = nh * hd, ks = nkv * hd, group = nh / nkv;
    float scale = 1.0f / sqrtf((float)hd);
    int block = RT_ATTN_ROW_BLOCK;
    memset(dk, 0, sizeof(float) * (size_t)s->B * T * ks);
    memset(dv, 0, sizeof(float) * (size_t)s->B * T * ks);
    for (int b = 0; b < s->B; b++)
        for (int h = 0; h < nh; h++) {
            size_t qoff = (size_t)b * T * qs + (size_t)h * hd;
            size_t koff = (size_t)b * T * ks + (size_t)(h / group) * hd;
            const float *P = probs + ((size_t)b * nh + h) * T * T;
            for (int r0 = 0; r0 < T; r0 += block) {
                int rows = T - r0 < block ? T - r0 : block;
                int c0 = first_visible(r0, s->window), c1 = r0 + rows, nc = c1 - c0;
                const float *Pb = P + (size_t)r0 * T + c0;
                float *dPb = scratch + (size_t)r0 * T + c0;
                const float *dob = dout + qoff + (size_t)r0 * qs;
                /* dP = dO V^T, dV += P^T dO, over the visible columns c0..c1 only */
                rt_sgemm(0, 1, rows, nc, hd, 1.0f, dob, qs, v + koff + (size_t)c0 * ks, ks, 0.0f, dPb, T);
                rt_sgemm(1, 0, nc, hd, rows, 1.0f, Pb, T, dob, qs, 1.0f, dv + koff + (size_t)c0 * ks, ks);
                /* softmax backward: dS = P * (dP - sum_j P dP) on each row's visible keys, 0 elsewhere */
#pragma omp parallel for if ((size_t)rows * T > 16384)
                for (int i = 0; i < rows; i++)
                    softmax_backward_row(dPb + (size_t)i * T, Pb + (size_t)i * T - c0, r0 + i, c0, c1, s->window);
                /* dQ = scale dS K, dK += scale dS^T Q */
                rt_sgemm(0, 0, rows, hd, nc, scale, dPb, T, k + koff + (size_t)c0 * ks, ks, 0.0f, dq + qoff + (size_t)r0 * qs, qs);
                rt_sgemm(1, 0, nc, hd, rows, scale, dPb, T, q + qoff + (size_t)r0 * qs, qs, 1.0f, dk + koff + (size_t)c0 * ks, ks);
            }
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
