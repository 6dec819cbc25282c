/* gen_internal.h: what generation's source files share: the inference kernels, the workspace and the
 * ragged forward pass over several sequences' KV caches.
 *
 * Every kernel here computes each output element in an order that does not depend on how many rows run
 * together or which thread runs them: a row's result is the same bits whether it is decoded alone,
 * prefilled in a chunk of 256 or decoded in a batch of 16. That is what makes session reuse and batched
 * generation give exactly the tokens of one-at-a-time generation. */
#ifndef RT_GEN_INTERNAL_H
#define RT_GEN_INTERNAL_H

#include "model/model_internal.h"

/* Rows (tokens of all sequences together) one forward chunk holds: bounds the workspace, and a longer
 * prefill runs in chunks of this many tokens. */
#define RT_GEN_CHUNK_ROWS 256

/* out (N, O) row stride ldo = [out +] x (N, K) W^T [+ bias], W (O, K) float32 (w) or bfloat16 (wb). */
/* 1 when the AVX2+FMA variant of the kernels below runs (chosen once; gen_kernels.c). */
int rt_gen_kernels_avx2(void);
void rt_gen_linear(float *out, int ldo, const float *x, int N, int K, const float *w, const uint16_t *wb,
                   const float *bias, int O, int accumulate);

/* One query row's attention for the G query heads that share one KV head, over cached keys lo..pos:
 * o_g (hd) = softmax(q_g.k / sqrt(hd)) V, q and o holding the G heads one after another. k and v rows
 * are kv_stride floats apart; scores holds G * (pos - lo + 1) floats of scratch. */
void rt_gen_attend_group(float *o, const float *q, int G, const float *k, const float *v, int kv_stride, int lo,
                         int pos, int hd, float *scores);

/* Scratch of the forward pass, grown on demand and kept between calls (no allocation per token). */
typedef struct {
    int rows, r, score_len, n_threads;
    float *x, *ln, *q, *k, *v, *att, *gate, *up, *xa, *cos_t, *sin_t, *inv, *scores;
    float *lg; /* (lg_rows, V): the logits of a chunk's sequences */
    int lg_rows;
    int bf16; /* 1: the projections and lm_head use the model's bf16 copies where it has them */
    int *row_seq, *row_pos, *row_logit;
} rt_gen_work;

void rt_gen_work_free(rt_gen_work *w);

/* n new tokens for one KV cache; logits (V floats) receives the last new token's, when not NULL. ids,
 * when not NULL, records every token at its position (a session's record of what its cache holds). */
typedef struct {
    rt_kv_cache *cache;
    int32_t *ids;
    const int32_t *tokens;
    int n;
    float *logits;
} rt_gen_seq;

/* Runs every sequence's new tokens through the model (in chunks of RT_GEN_CHUNK_ROWS rows, the
 * projections shared by all sequences of a chunk), appending to each cache. Checks ids and room first. */
rt_status rt_gen_forward(rt_model *m, rt_gen_work *w, const rt_gen_seq *seqs, int n_seqs);

typedef struct {
    float p;
    int id;
} prob_id;

/* rt_sample with caller scratch (V entries; unused when greedy), so decoding allocates nothing. */
int rt_gen_sample(float *logits, int V, float temperature, int top_k, float top_p, rt_rng *rng, prob_id *scratch);

#endif
