/* bert_internal.h: the encoder's weights, the loaded model, and its kernels (shared by src/bert/). */
#ifndef RETRACE_BERT_INTERNAL_H
#define RETRACE_BERT_INTERNAL_H

#include "retrace/bert.h"

/* One transformer layer; the query, key and value projections are stacked into one (3H, H) matrix so
 * that a single GEMM computes all three. */
typedef struct {
    float *qkv_w, *qkv_b;   /* (3H, H), (3H) */
    float *attn_out_w, *attn_out_b; /* (H, H), (H) */
    float *ln1_w, *ln1_b;   /* (H) */
    float *inter_w, *inter_b; /* (I, H), (I) */
    float *out_w, *out_b;   /* (H, I), (H) */
    float *ln2_w, *ln2_b;   /* (H) */
} rt_bert_layer;

/* Every parameter lives in one allocation; the struct points into it. */
typedef struct {
    float *word, *pos, *type; /* (V, H), (P, H), (TV, H) */
    float *emb_ln_w, *emb_ln_b;
    rt_bert_layer *layers;
    float *mem;
    size_t n_floats;
} rt_bert_weights;

struct rt_bert {
    rt_bert_config cfg;
    rt_bert_weights w;
    rt_tokenizer *tok;
    rt_tok_ids prefix, suffix; /* special tokens the post-processor puts around a text */
    rt_bert_pooling pooling;
    int max_tokens;
    uint64_t fingerprint;
};

/* Reads every weight of `cfg` from the safetensors at `dir` into w. */
rt_status rt_bert_weights_load(const char *dir, const rt_bert_config *cfg, rt_bert_weights *w);
void rt_bert_weights_free(rt_bert_weights *w);
uint64_t rt_bert_weights_hash(const rt_bert_weights *w, const rt_bert_config *cfg);

/* ---- kernels (kernels.c) ---- */

/* C (M,N) = alpha A (M,K) op(B) + beta C, row-major, op(B) = B^T (B is (N,K)) when trans_b: oneDNN's
 * sgemm when the build has it, else OpenBLAS. */
void rt_bert_sgemm(int trans_b, int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb,
                   float beta, float *C, int ldc);
/* out (N,OC) = inp (N,C) @ w(OC,C)^T + b(OC): the bias rows are written first and the GEMM adds to
 * them (beta = 1), which saves a pass over out. */
void rt_bert_linear(float *out, const float *inp, const float *w, const float *b, int N, int C, int OC);
/* x (N,C) = LayerNorm(x + r + rb) * w + b, in place, rb (C) the bias of the layer that made r; r may be
 * NULL (then rb is not read). Biased variance, as torch. */
void rt_bert_add_layernorm(float *x, const float *r, const float *rb, const float *w, const float *b, int N, int C,
                           float eps);
/* x (N,C) = act(x + bias) in place, act the exact (erf) GELU or its tanh approximation. */
void rt_bert_bias_gelu(float *x, const float *bias, int N, int C, rt_bert_act act);
/* Row softmax of s (rows, cols) in place. */
void rt_bert_softmax_rows(float *s, int rows, int cols);
/* The same through libm in double, for tests. */
void rt_bert_gelu_ref(float *x, size_t n, rt_bert_act act);
void rt_bert_softmax_rows_ref(float *s, int rows, int cols);

#endif
