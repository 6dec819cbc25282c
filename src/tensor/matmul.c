/* matmul.c: the linear layer through cblas_sgemm, and the naive reference kernels tests compare with. */
#include <cblas.h>
#include <string.h>

#include "retrace/tensor.h"

void rt_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
              int ldb, float beta, float *C, int ldc) {
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, M, N, K,
                alpha, A, lda, B, ldb, beta, C, ldc);
}

void rt_matmul_forward(float *out, const float *inp, const float *weight, const float *bias, int N, int C, int OC,
                       int accumulate) {
    rt_sgemm(0, 1, N, OC, C, 1.0f, inp, C, weight, C, accumulate ? 1.0f : 0.0f, out, OC);
    if (!bias) return;
#pragma omp parallel for if ((size_t)N * OC > 65536)
    for (int n = 0; n < N; n++) {
        float *o = out + (size_t)n * OC;
        for (int j = 0; j < OC; j++) o[j] += bias[j];
    }
}

void rt_matmul_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                        const float *weight, int N, int C, int OC) {
    if (dinp) rt_sgemm(0, 0, N, C, OC, 1.0f, dout, OC, weight, C, 1.0f, dinp, C);
    if (dweight) rt_sgemm(1, 0, OC, C, N, 1.0f, dout, OC, inp, C, 1.0f, dweight, C);
    if (dbias) {
#pragma omp parallel for if ((size_t)N * OC > 65536)
        for (int j = 0; j < OC; j++) {
            float s = 0.0f;
            for (int n = 0; n < N; n++) s += dout[(size_t)n * OC + j];
            dbias[j] += s;
        }
    }
}

void rt_matmul_forward_ref(float *out, const float *inp, const float *weight, const float *bias, int N, int C,
                           int OC, int accumulate) {
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OC; o++) {
            double s = bias ? bias[o] : 0.0;
            for (int c = 0; c < C; c++) s += (double)inp[(size_t)n * C + c] * weight[(size_t)o * C + c];
            out[(size_t)n * OC + o] = (float)(accumulate ? out[(size_t)n * OC + o] + s : s);
        }
}

void rt_matmul_backward_ref(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                            const float *weight, int N, int C, int OC) {
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OC; o++) {
            float g = dout[(size_t)n * OC + o];
            if (dbias) dbias[o] += g;
            for (int c = 0; c < C; c++) {
                if (dinp) dinp[(size_t)n * C + c] += g * weight[(size_t)o * C + c];
                if (dweight) dweight[(size_t)o * C + c] += g * inp[(size_t)n * C + c];
            }
        }
}
