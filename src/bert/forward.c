/* forward.c: the encoder's forward pass over packed sequences.
 *
 * The tokens of all sequences of a batch lie end to end in one (T, H) matrix, with no padding: every
 * projection is one GEMM with M = T, and attention runs per (sequence, head) over that sequence's rows
 * only, which computes exactly what transformers computes for the unpadded part of a padded batch
 * (masked keys get weight exp(-huge) = 0 there). Token type ids are all 0 (single sentences). */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "bert/bert_internal.h"

/* x (T, H) = LayerNorm(word[id] + pos[position] + type[0]). XLM-R counts positions from pad_id + 1 and
 * gives a pad token inside a text the position pad_id, as create_position_ids_from_input_ids does. */
static void embed(const rt_bert *m, const int32_t *ids, const int *off, int n, float *x) {
    const rt_bert_config *c = &m->cfg;
    const rt_bert_weights *w = &m->w;
    int H = c->hidden;
#pragma omp parallel for schedule(dynamic)
    for (int s = 0; s < n; s++) {
        int pos = c->pos_offset;
        for (int t = off[s]; t < off[s + 1]; t++) {
            int p = c->arch == RT_BERT_ARCH_XLMR && ids[t] == c->pad_id ? c->pad_id : pos++;
            const float *we = w->word + (size_t)ids[t] * H, *pe = w->pos + (size_t)p * H;
            float *xr = x + (size_t)t * H;
            for (int i = 0; i < H; i++) xr[i] = we[i] + pe[i] + w->type[i];
        }
    }
    rt_bert_add_layernorm(x, NULL, NULL, w->emb_ln_w, w->emb_ln_b, off[n], H, c->ln_eps);
}

/* ctx (T, H) from qkv (T, 3H): for each sequence s and head h, softmax(Q K^T / sqrt(hd)) V. scratch
 * holds max_len^2 floats per thread. */
static void attention(const rt_bert_config *c, const float *qkv, const int *off, int n, float *ctx, float *scratch,
                      int max_len) {
    int H = c->hidden, nh = c->n_heads, hd = H / nh, ld = 3 * H;
    float scale = 1.0f / sqrtf((float)hd);
#pragma omp parallel for schedule(dynamic)
    for (int job = 0; job < n * nh; job++) {
        int s = job / nh, h = job % nh;
        int L = off[s + 1] - off[s];
        float *S = scratch + (size_t)omp_get_thread_num() * max_len * max_len;
        const float *q = qkv + (size_t)off[s] * ld + (size_t)h * hd;
        rt_bert_sgemm(1, L, L, hd, scale, q, ld, q + H, ld, 0.0f, S, L);
        rt_bert_softmax_rows(S, L, L);
        rt_bert_sgemm(0, L, hd, L, 1.0f, S, L, q + 2 * H, ld, 0.0f, ctx + (size_t)off[s] * H + (size_t)h * hd, H);
    }
}

static void layer(const rt_bert_config *c, const rt_bert_layer *L, float *x, float *qkv, float *ctx, float *tmp,
                  float *inter, const int *off, int n, float *scratch, int max_len) {
    int T = off[n], H = c->hidden, I = c->intermediate;
    rt_bert_linear(qkv, x, L->qkv_w, L->qkv_b, T, H, 3 * H);
    attention(c, qkv, off, n, ctx, scratch, max_len);
    /* The other three products leave their bias to the pass that follows them. */
    rt_bert_sgemm(1, T, H, H, 1.0f, ctx, H, L->attn_out_w, H, 0.0f, tmp, H);
    rt_bert_add_layernorm(x, tmp, L->attn_out_b, L->ln1_w, L->ln1_b, T, H, c->ln_eps);
    rt_bert_sgemm(1, T, I, H, 1.0f, x, H, L->inter_w, H, 0.0f, inter, I);
    rt_bert_bias_gelu(inter, L->inter_b, T, I, c->act);
    rt_bert_sgemm(1, T, H, I, 1.0f, inter, I, L->out_w, I, 0.0f, tmp, H);
    rt_bert_add_layernorm(x, tmp, L->out_b, L->ln2_w, L->ln2_b, T, H, c->ln_eps);
}

static rt_status check_input(const rt_bert *m, const int32_t *ids, const int *off, int n, int *max_len) {
    const rt_bert_config *c = &m->cfg;
    int limit = c->max_positions - c->pos_offset;
    *max_len = 0;
    if (n < 0 || (n > 0 && off[0] != 0)) return rt_fail(RT_ERR_ARG, "bert: offsets must start at 0");
    for (int s = 0; s < n; s++) {
        int L = off[s + 1] - off[s];
        if (L < 1 || L > limit)
            return rt_fail(RT_ERR_ARG, "bert: sequence %d has %d tokens (1..%d allowed)", s, L, limit);
        if (L > *max_len) *max_len = L;
    }
    for (int t = 0; t < (n > 0 ? off[n] : 0); t++)
        if (ids[t] < 0 || ids[t] >= c->vocab_size)
            return rt_fail(RT_ERR_ARG, "bert: token id %d outside the vocabulary (0..%d)", ids[t], c->vocab_size - 1);
    return RT_OK;
}

rt_status rt_bert_forward(rt_bert *m, const int32_t *ids, const int *offsets, int n, float *hidden) {
    int max_len;
    RT_TRY(check_input(m, ids, offsets, n, &max_len));
    if (n == 0) return RT_OK;
    const rt_bert_config *c = &m->cfg;
    size_t T = (size_t)offsets[n], H = (size_t)c->hidden, I = (size_t)c->intermediate;
    int threads = omp_get_max_threads();
    float *qkv = rt_alloc_floats(T * 3 * H), *ctx = rt_alloc_floats(T * H), *tmp = rt_alloc_floats(T * H);
    float *inter = rt_alloc_floats(T * I), *scratch = rt_alloc_floats((size_t)threads * max_len * max_len);
    embed(m, ids, offsets, n, hidden);
    for (int l = 0; l < c->n_layers; l++) layer(c, &m->w.layers[l], hidden, qkv, ctx, tmp, inter, offsets, n, scratch, max_len);
    rt_free_aligned(qkv), rt_free_aligned(ctx), rt_free_aligned(tmp), rt_free_aligned(inter), rt_free_aligned(scratch);
    return RT_OK;
}
