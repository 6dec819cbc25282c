/* attn_internal.h: the attention kernels' shared row operations (float32 and bf16 variants). */
#ifndef RT_ATTN_INTERNAL_H
#define RT_ATTN_INTERNAL_H

#include <math.h>

#include "tensor/simd_math.h"

/* First key position visible from query i. */
static inline int first_visible(int i, int window) { return (window > 0 && i - window + 1 > 0) ? i - window + 1 : 0; }

/* Masked softmax of row i of S (length T) in place: keys outside [lo, i] get probability 0. fast: the
 * vectorised exp (the bf16 training mode), else libm's. */
static inline void softmax_row(float *row, int i, int window, int T, int fast) {
    int lo = first_visible(i, window);
    float mx = -INFINITY;
    for (int j = lo; j <= i; j++) mx = row[j] > mx ? row[j] : mx;
    float sum = 0.0f;
    if (fast) {
#pragma omp simd reduction(+ : sum)
        for (int j = lo; j <= i; j++) {
            row[j] = rt_fast_expf(row[j] - mx);
            sum += row[j];
        }
    } else {
        for (int j = lo; j <= i; j++) {
            row[j] = expf(row[j] - mx);
            sum += row[j];
        }
    }
    float inv = 1.0f / sum;
    for (int j = 0; j < lo; j++) row[j] = 0.0f;
    for (int j = lo; j <= i; j++) row[j] *= inv;
    for (int j = i + 1; j < T; j++) row[j] = 0.0f;
}

/* Softmax backward of query row `row` in place on the block of its gradient d, which holds keys c0..c1-1
 * (d[j - c0] is key j); p is the row of probabilities indexed by key. dS = P * (dP - sum_j P dP) over the
 * row's visible keys, 0 on the block's other keys. */
static inline void softmax_backward_row(float *d, const float *p, int row, int c0, int c1, int window) {
    int lo = first_visible(row, window);
    float dot = 0.0f;
    for (int j = lo; j <= row; j++) dot += p[j] * d[j - c0];
    for (int j = c0; j < lo; j++) d[j - c0] = 0.0f;
    for (int j = lo; j <= row; j++) d[j - c0] = p[j] * (d[j - c0] - dot);
    for (int j = row + 1; j < c1; j++) d[j - c0] = 0.0f;
}

#endif
