/* retrace/tensor.h: CPU kernels with hand-written backward passes.
 *
 * Tensors are plain row-major float arrays; each function states its shapes. Backward functions
 * ACCUMULATE (+=) into parameter gradients and into input gradients unless they say otherwise, so a
 * caller zeroes gradient buffers once per step. Fast paths use OpenBLAS cblas_sgemm and OpenMP; the naive
 * reference kernels (suffix _ref) are kept for tests and stay simple on purpose. */
#ifndef RETRACE_TENSOR_H
#define RETRACE_TENSOR_H

#include "retrace/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A trainable tensor as the optimizer and the checkpoints see it: a flat float buffer and its gradient,
 * whatever model it comes from (LoRA adapters, a whole tiny model). */
typedef struct {
    const char *name; /* stable across runs: checkpoints match tensors by name */
    float *data;
    float *grad;
    size_t numel;
    int decay; /* 1 when weight decay applies (matrices), 0 for norms and biases */
} rt_param;

/* ---- matmul: the linear layer y = x W^T + b ---- */

/* out (N,OC) = inp (N,C) @ weight(OC,C)^T + bias(OC) (bias may be NULL). If accumulate, out += instead. */
void rt_matmul_forward(float *out, const float *inp, const float *weight, const float *bias, int N, int C, int OC,
                       int accumulate);
/* dinp (N,C) += dout (N,OC) @ weight; dweight (OC,C) += dout^T @ inp; dbias (OC) += colsum(dout).
 * Any of dinp, dweight, dbias may be NULL to skip it (a frozen base weight computes no dweight). */
void rt_matmul_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                        const float *weight, int N, int C, int OC);
void rt_matmul_forward_ref(float *out, const float *inp, const float *weight, const float *bias, int N, int C,
                           int OC, int accumulate);
void rt_matmul_backward_ref(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                            const float *weight, int N, int C, int OC);

/* General C (M,N) = alpha * op(A) op(B) + beta * C, row-major, with leading dimensions (cblas_sgemm). */
void rt_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
              int ldb, float beta, float *C, int ldc);

/* ---- bfloat16 products (oneDNN: AMX or AVX512-BF16), float32 accumulation and output ----
 *
 * For frozen weights, where a bf16 copy costs nothing in accuracy that training needs: inputs are
 * rounded to bf16 (nearest even), products and sums are float32. Without oneDNN in the build the
 * products return RT_ERR_UNSUPPORTED with a message saying so. */

/* 1 when this build has oneDNN (bf16 products work on any x86-64 CPU, emulated below AVX512-BF16). */
int rt_bf16_built(void);
/* 1 when oneDNN also implements bf16 matmuls on this CPU (some builds have none below AVX512). */
int rt_bf16_supported(void);
/* 1 when, in addition, the CPU runs bf16 products natively (AVX512-BF16 or AMX), so they are faster
 * than float32. */
int rt_bf16_native(void);
/* Whole arrays, in parallel: the same rounding as rt_f32_to_bf16 (nearest even, NaN stays NaN). */
void rt_bf16_round_array(uint16_t *dst, const float *src, size_t n);
void rt_bf16_widen_array(float *dst, const uint16_t *src, size_t n);
/* C (M,N) (+)= A (M,K) @ op(B), row-major; op(B) = B^T for B (N,K) when trans_b, else B (K,N). */
rt_status rt_gemm_bf16(int trans_b, int M, int N, int K, const uint16_t *A, const uint16_t *B, float *C,
                       int accumulate);
/* rt_sgemm's contract (beta 0 or 1 only) with bf16 inputs: C (M,N) = alpha op(A) op(B) + beta C. Dense
 * operands (leading dimension = row length) run on AMX; strided views fall back to a slower kernel. */
rt_status rt_gemm_bf16_ex(int trans_a, int trans_b, int M, int N, int K, float alpha, const uint16_t *A, int lda,
                          const uint16_t *B, int ldb, float beta, float *C, int ldc);
/* out (N,OC) (+)= inp (N,C) @ weight (OC,C)^T + bias (OC, float32, may be NULL). */
rt_status rt_matmul_forward_bf16(float *out, const uint16_t *inp, const uint16_t *weight, const float *bias, int N,
                                 int C, int OC, int accumulate);
/* dinp (N,C) += dout (N,OC) @ weight (OC,C): the input gradient of a frozen linear layer. */
rt_status rt_matmul_backward_bf16(float *dinp, const uint16_t *dout, const uint16_t *weight, int N, int C, int OC);
/* rt_sgemm's contract (beta 0 or 1 only) through oneDNN's float32 matmul, which is several times faster
 * than OpenBLAS on the skinny products of LoRA adapters (rank 16 against 512 tokens). */
rt_status rt_sgemm_onednn(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
                          const float *B, int ldb, float beta, float *C, int ldc);
/* Frees the cached oneDNN primitives (they are rebuilt on demand). */
void rt_bf16_release(void);

/* ---- RMSNorm: y = w * x / sqrt(mean(x^2) + eps), computed in float32 as transformers does ---- */

/* out, inp (N,C); weight (C); rstd (N) receives 1/sqrt(mean(x^2)+eps) for the backward pass (may be NULL). */
void rt_rmsnorm_forward(float *out, float *rstd, const float *inp, const float *weight, int N, int C, float eps);
/* dinp (N,C) += ...; dweight (C) += ... (dweight may be NULL). */
void rt_rmsnorm_backward(float *dinp, float *dweight, const float *dout, const float *inp, const float *weight,
                         const float *rstd, int N, int C);

/* ---- rotary position embedding (the rotate-half convention of transformers' Llama) ---- */

typedef enum { RT_ROPE_DEFAULT = 0, RT_ROPE_LINEAR = 1, RT_ROPE_LLAMA3 = 2 } rt_rope_kind;

typedef struct {
    rt_rope_kind kind;
    double theta;
    double factor;            /* linear and llama3 */
    double low_freq_factor;   /* llama3 */
    double high_freq_factor;  /* llama3 */
    double original_max_pos;  /* llama3: original_max_position_embeddings */
} rt_rope_params;

/* inv_freq (head_dim/2) for the given scaling. */
void rt_rope_inv_freq(float *inv_freq, int head_dim, const rt_rope_params *p);
/* cos, sin (n_pos, head_dim/2) for positions pos0 .. pos0+n_pos-1. */
void rt_rope_tables(float *cos_t, float *sin_t, const float *inv_freq, int head_dim, int pos0, int n_pos);
/* In place on x (B,T,n_heads,head_dim), position of token t is t (tables indexed by t). */
void rt_rope_forward(float *x, const float *cos_t, const float *sin_t, int B, int T, int n_heads, int head_dim);
/* In place on the gradient: the inverse rotation. */
void rt_rope_backward(float *dx, const float *cos_t, const float *sin_t, int B, int T, int n_heads, int head_dim);

/* ---- causal grouped-query attention ---- */

typedef struct {
    int B, T;
    int n_heads, n_kv_heads, head_dim;
    int window; /* sliding window (Mistral): key j is visible to query i when i - j < window; 0 = none */
} rt_attn_shape;

/* q (B,T,nh,hd), k and v (B,T,nkv,hd) -> out (B,T,nh,hd); probs (B,nh,T,T) keeps the attention
 * weights for backward (may be NULL at inference). */
void rt_attention_forward(float *out, float *probs, const float *q, const float *k, const float *v,
                          const rt_attn_shape *s);
/* dq is overwritten; dk and dv are overwritten (zeroed first, then accumulated over the head group).
 * scratch holds T*T floats. */
void rt_attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *probs, const float *q,
                           const float *k, const float *v, const rt_attn_shape *s, float *scratch);
void rt_attention_forward_ref(float *out, float *probs, const float *q, const float *k, const float *v,
                              const rt_attn_shape *s);

/* Attention for the bf16 training mode: the same computation with the products in bf16 (q, k, v, the
 * output gradient, the probabilities and their gradient rounded; scores, softmax and every sum float32),
 * as PyTorch's bf16 autocast runs it. scratch holds rt_attention_bf16_scratch(s) floats (both passes).
 * probs must not be NULL and keeps, of each query row, only the keys its block of 128 query rows can see
 * (the backward pass reads no others; the rest of the row is left as it was). */
size_t rt_attention_bf16_scratch(const rt_attn_shape *s);
rt_status rt_attention_forward_bf16(float *out, float *probs, const float *q, const float *k, const float *v,
                                    const rt_attn_shape *s, float *scratch);
rt_status rt_attention_backward_bf16(float *dq, float *dk, float *dv, const float *dout, const float *probs,
                                     const float *q, const float *k, const float *v, const rt_attn_shape *s,
                                     float *scratch);

/* ---- SwiGLU: h = silu(gate) * up ---- */

void rt_swiglu_forward(float *h, const float *gate, const float *up, size_t n);
/* dgate and dup are overwritten; either may alias dh (each element of dh is read before it is written). */
void rt_swiglu_backward(float *dgate, float *dup, const float *dh, const float *gate, const float *up, size_t n);

/* The same with a vectorised exp (2 ulp), for the bf16 training mode. */
void rt_swiglu_forward_fast(float *h, const float *gate, const float *up, size_t n);
void rt_swiglu_backward_fast(float *dgate, float *dup, const float *dh, const float *gate, const float *up, size_t n);

/* ---- embedding ---- */

/* out (N,C) = table[ids[n]]; ids must be in [0,V) (checked by the caller). */
void rt_embedding_forward(float *out, const int32_t *ids, const float *table, int N, int C);
/* dtable (V,C) += scatter of dout (N,C). */
void rt_embedding_backward(float *dtable, const float *dout, const int32_t *ids, int N, int C);

/* ---- softmax cross-entropy with ignored positions ---- */

/* logits (N,V), targets (N) with -1 = ignored. Returns the mean loss over the non-ignored positions
 * (0 when there are none) and writes their count to *n_valid. */
float rt_cross_entropy_forward(const float *logits, const int32_t *targets, int N, int V, int *n_valid);
/* dlogits (N,V) is overwritten with scale * d(sum of losses)/dlogits; ignored rows are zero. Pass
 * scale = 1/n_valid for the gradient of the mean. dlogits may alias logits. */
void rt_cross_entropy_backward(float *dlogits, const float *logits, const int32_t *targets, int N, int V,
                               float scale);

/* The bf16 training mode's loss: the same cross-entropy with a vectorised exp (2 ulp) whose per-row
 * log-sum-exp lse (N) is kept, so the backward pass does not recompute it and writes its gradient
 * scale * (softmax - onehot) straight in bf16, the input of the bf16 lm_head product. */
float rt_cross_entropy_forward_fast(const float *logits, const int32_t *targets, int N, int V, int *n_valid,
                                    float *lse);
void rt_cross_entropy_backward_bf16(uint16_t *dlogits, const float *logits, const float *lse, const int32_t *targets,
                                    int N, int V, float scale);

/* ---- small helpers ---- */

/* y += a * x */
void rt_axpy(float *y, const float *x, float a, size_t n);
/* Dropout mask regenerated from a seed so the backward pass need not store it: x[i] = 0 with probability
 * p, else x[i] / (1-p). Same seed, same mask. */
void rt_dropout_apply(float *x, size_t n, float p, uint64_t seed);

#ifdef __cplusplus
}
#endif
#endif
