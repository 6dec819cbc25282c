/* kernels.c: the encoder's elementwise kernels: residual add + LayerNorm, GELU, row softmax. The GEMMs
 * go through rt_sgemm / rt_matmul_forward (OpenBLAS). */
#include <math.h>

#include "bert/bert_internal.h"

#define PAR_MIN_FLOATS 32768 /* below this a parallel region costs more than it saves */

void rt_bert_add_layernorm(float *x, const float *r, const float *w, const float *b, int N, int C, float eps) {
#pragma omp parallel for if ((size_t)N * C > PAR_MIN_FLOATS)
    for (int n = 0; n < N; n++) {
        float *xr = x + (size_t)n * C;
        if (r) {
            const float *rr = r + (size_t)n * C;
            for (int c = 0; c < C; c++) xr[c] += rr[c];
        }
        /* Two passes (mean, then the centred sum of squares) as torch does: one-pass variance loses
         * digits when the mean is large against the spread. */
        float sum = 0.0f;
        for (int c = 0; c < C; c++) sum += xr[c];
        float mean = sum / (float)C, ss = 0.0f;
        for (int c = 0; c < C; c++) {
            float d = xr[c] - mean;
            ss += d * d;
        }
        float rstd = 1.0f / sqrtf(ss / (float)C + eps);
        for (int c = 0; c < C; c++) xr[c] = (xr[c] - mean) * rstd * w[c] + b[c];
    }
}

void rt_bert_gelu(float *x, size_t n, rt_bert_act act) {
    const float inv_sqrt2 = 0.70710678118654752f, k = 0.79788456080286536f; /* sqrt(2/pi) */
    if (act == RT_BERT_ACT_GELU) {
#pragma omp parallel for if (n > PAR_MIN_FLOATS)
        for (size_t i = 0; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * inv_sqrt2));
    } else {
#pragma omp parallel for if (n > PAR_MIN_FLOATS)
        for (size_t i = 0; i < n; i++) {
            float v = x[i];
            x[i] = 0.5f * v * (1.0f + tanhf(k * (v + 0.044715f * v * v * v)));
        }
    }
}

void rt_bert_softmax_rows(float *s, int rows, int cols) {
    for (int i = 0; i < rows; i++) {
        float *row = s + (size_t)i * cols;
        float mx = row[0];
        for (int j = 1; j < cols; j++) mx = row[j] > mx ? row[j] : mx;
        float sum = 0.0f;
        for (int j = 0; j < cols; j++) {
            row[j] = expf(row[j] - mx);
            sum += row[j];
        }
        float inv = 1.0f / sum;
        for (int j = 0; j < cols; j++) row[j] *= inv;
    }
}
