/* kernels.c: the encoder's elementwise kernels: residual add + LayerNorm, GELU, row softmax, and the
 * linear layer with its bias folded into the GEMM. The GEMMs go through oneDNN's sgemm where the
 * build has oneDNN, else rt_sgemm (OpenBLAS).
 *
 * exp and erf are computed here rather than by libm so that the loops vectorise (libm's scalar erff
 * and expf took a fifth of the encoder's time): exp by range reduction to [-ln2/2, ln2/2] and a
 * degree-6 Taylor polynomial (relative error < 2e-7), erf by Abramowitz & Stegun 7.1.26 (absolute
 * error < 1.5e-7, below a float's rounding at erf's values near 1). The reference kernels (suffix _ref)
 * use libm and stay for the tests. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "bert/bert_internal.h"
#include "retrace/tensor.h"

#ifdef RT_HAVE_DNNL
#include <dnnl.h>
#endif

#define PAR_MIN_FLOATS 32768 /* below this a parallel region costs more than it saves */
/* Arguments are clamped at -80 (e^-80 = 1.8e-35): nearer float's smallest normal (2^-126, e^-87.3) the
 * polynomial times 2^k can land among the subnormals, and one subnormal operand costs a microcode
 * assist of ~100 cycles: GELU of inputs beyond +-13 ran 8x slower. Every use adds the result to 1 or
 * to a row sum >= 1, where 1.8e-35 and anything smaller are the same. */
#define EXP_ARG_MIN (-80.0f)
#define EXP_ARG_MAX 88.0f

static inline float fast_expf(float x) {
    x = x < EXP_ARG_MIN ? EXP_ARG_MIN : x > EXP_ARG_MAX ? EXP_ARG_MAX : x;
    float k = rintf(x * 1.44269504088896341f);
    /* ln 2 split in a part exact in float and a correction, so that x - k ln2 loses nothing. */
    float r = x - k * 0.693145751953125f - k * 1.42860682030941723e-6f;
    float p = 1.0f + r * (1.0f + r * (0.5f + r * (1.66666667e-1f + r * (4.16666667e-2f + r * (8.33333333e-3f + r * 1.38888889e-3f)))));
    int32_t bits = ((int32_t)k + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

static inline float fast_erff(float x) {
    float a = fabsf(x);
    float t = 1.0f / (1.0f + 0.3275911f * a);
    float poly = t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f + t * (-1.453152027f + t * 1.061405429f))));
    float y = 1.0f - poly * fast_expf(-a * a);
    return x < 0.0f ? -y : y;
}

void rt_bert_sgemm(int trans_b, int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb,
                   float beta, float *C, int ldc) {
#ifdef RT_HAVE_DNNL
    /* oneDNN's stateless sgemm (JIT AVX-512 kernels) ran these shapes 8-16% faster than OpenBLAS
     * 0.3.21, with the same float32 arithmetic. It only fails on bad arguments, which would be a bug
     * here; OpenBLAS then does the product. */
    if (dnnl_sgemm('N', trans_b ? 'T' : 'N', M, N, K, alpha, A, lda, B, ldb, beta, C, ldc) == dnnl_success) return;
#endif
    rt_sgemm(0, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void rt_bert_linear(float *out, const float *inp, const float *w, const float *b, int N, int C, int OC) {
#pragma omp parallel for if ((size_t)N * OC > PAR_MIN_FLOATS)
    for (int n = 0; n < N; n++) memcpy(out + (size_t)n * OC, b, (size_t)OC * sizeof *out);
    /* beta = 1 adds the product to the bias rows, instead of a pass that zeroes them. */
    rt_bert_sgemm(1, N, OC, C, 1.0f, inp, C, w, C, 1.0f, out, OC);
}

void rt_bert_add_layernorm(float *x, const float *r, const float *rb, const float *w, const float *b, int N, int C,
                           float eps) {
#pragma omp parallel for if ((size_t)N * C > PAR_MIN_FLOATS)
    for (int n = 0; n < N; n++) {
        float *xr = x + (size_t)n * C;
        if (r) {
            const float *rr = r + (size_t)n * C;
#pragma omp simd
            for (int c = 0; c < C; c++) xr[c] += rr[c] + rb[c];
        }
        /* Two passes (mean, then the centred sum of squares) as torch does: one-pass variance loses
         * digits when the mean is large against the spread. */
        float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
        for (int c = 0; c < C; c++) sum += xr[c];
        float mean = sum / (float)C, ss = 0.0f;
#pragma omp simd reduction(+ : ss)
        for (int c = 0; c < C; c++) ss += (xr[c] - mean) * (xr[c] - mean);
        float rstd = 1.0f / sqrtf(ss / (float)C + eps);
#pragma omp simd
        for (int c = 0; c < C; c++) xr[c] = (xr[c] - mean) * rstd * w[c] + b[c];
    }
}

void rt_bert_bias_gelu(float *x, const float *bias, int N, int C, rt_bert_act act) {
    const float inv_sqrt2 = 0.70710678118654752f, k = 0.79788456080286536f; /* sqrt(2/pi) */
#pragma omp parallel for if ((size_t)N * C > PAR_MIN_FLOATS)
    for (int n = 0; n < N; n++) {
        float *p = x + (size_t)n * C;
        if (act == RT_BERT_ACT_GELU) {
#pragma omp simd
            for (int i = 0; i < C; i++) {
                float v = p[i] + bias[i];
                p[i] = 0.5f * v * (1.0f + fast_erff(v * inv_sqrt2));
            }
        } else {
            /* tanh(u) = 1 - 2 / (e^{2u} + 1) */
#pragma omp simd
            for (int i = 0; i < C; i++) {
                float v = p[i] + bias[i], u = k * (v + 0.044715f * v * v * v);
                p[i] = 0.5f * v * (2.0f - 2.0f / (fast_expf(2.0f * u) + 1.0f));
            }
        }
    }
}

#define SOFTMAX_LANES 16

void rt_bert_softmax_rows(float *s, int rows, int cols) {
    for (int i = 0; i < rows; i++) {
        float *row = s + (size_t)i * cols;
        /* The maximum in SOFTMAX_LANES independent lanes: one running maximum is a chain of dependent
         * compares, and a max reduction pragma does not vectorise under clang. */
        float lane[SOFTMAX_LANES];
        for (int k = 0; k < SOFTMAX_LANES; k++) lane[k] = row[0];
        int tail = 0;
        for (; tail + SOFTMAX_LANES <= cols; tail += SOFTMAX_LANES)
            for (int k = 0; k < SOFTMAX_LANES; k++) lane[k] = row[tail + k] > lane[k] ? row[tail + k] : lane[k];
        float mx = row[0];
        for (int k = 0; k < SOFTMAX_LANES; k++) mx = lane[k] > mx ? lane[k] : mx;
        for (; tail < cols; tail++) mx = row[tail] > mx ? row[tail] : mx;
        float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
        for (int j = 0; j < cols; j++) {
            row[j] = fast_expf(row[j] - mx);
            sum += row[j];
        }
        float inv = 1.0f / sum;
#pragma omp simd
        for (int j = 0; j < cols; j++) row[j] *= inv;
    }
}

void rt_bert_gelu_ref(float *x, size_t n, rt_bert_act act) {
    for (size_t i = 0; i < n; i++) {
        double v = x[i];
        x[i] = act == RT_BERT_ACT_GELU ? (float)(0.5 * v * (1.0 + erf(v / sqrt(2.0))))
                                       : (float)(0.5 * v * (1.0 + tanh(sqrt(2.0 / M_PI) * (v + 0.044715 * v * v * v))));
    }
}

void rt_bert_softmax_rows_ref(float *s, int rows, int cols) {
    for (int i = 0; i < rows; i++) {
        float *row = s + (size_t)i * cols;
        double mx = row[0], sum = 0.0;
        for (int j = 1; j < cols; j++) mx = row[j] > mx ? row[j] : mx;
        for (int j = 0; j < cols; j++) sum += exp(row[j] - mx);
        for (int j = 0; j < cols; j++) row[j] = (float)(exp(row[j] - mx) / sum);
    }
}
