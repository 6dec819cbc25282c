/* gen_forward.c: the inference forward pass over several sequences at once ("ragged" rows).
 *
 * The new tokens of every sequence are stacked as the rows of one activation matrix, so each layer's
 * projections are one (rows, H) x (H, out) product whatever mix of prefill suffixes and decode steps the
 * rows come from; each row then attends over its own sequence's KV cache up to its own position. The
 * lm_head runs only on the rows whose logits are asked for (a sequence's last new token). Long inputs run
 * in chunks of RT_GEN_CHUNK_ROWS rows; the scratch is kept in an rt_gen_work between calls. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "model/gen_internal.h"

void rt_gen_work_free(rt_gen_work *w) {
    float *bufs[] = {w->x, w->ln, w->q, w->k, w->v, w->att, w->gate, w->up, w->xa, w->cos_t, w->sin_t, w->inv, w->scores, w->lg};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) rt_free_aligned(bufs[i]);
    free(w->row_seq);
    free(w->row_pos);
    free(w->row_logit);
    memset(w, 0, sizeof *w);
}

/* Makes room for `rows` rows and attention over `score_len` positions; keeps what is big enough. */
static rt_status work_reserve(const rt_model *m, rt_gen_work *w, int rows, int score_len) {
    const rt_model_config *c = &m->cfg;
    int r = m->has_lora ? m->lora_cfg.r : 1, threads = omp_get_max_threads();
    if (rows <= w->rows && r <= w->r && score_len <= w->score_len && threads <= w->n_threads) return RT_OK;
    rows = rows > w->rows ? rows : w->rows;
    score_len = score_len > w->score_len ? score_len : w->score_len;
    float *lg = w->lg;
    int lg_rows = w->lg_rows;
    int bf16 = w->bf16;
    w->lg = NULL;
    rt_gen_work_free(w);
    w->lg = lg, w->lg_rows = lg_rows, w->bf16 = bf16;
    size_t n = (size_t)rows, hd = (size_t)c->head_dim;
    size_t H = (size_t)c->hidden_size, QD = (size_t)c->n_heads * hd, KD = (size_t)c->n_kv_heads * hd;
    /* rt_alloc_floats aborts on failure (a few MB, sized by the chunk, not by the input) */
    w->x = rt_alloc_floats(n * H), w->ln = rt_alloc_floats(n * H);
    w->q = rt_alloc_floats(n * QD), w->att = rt_alloc_floats(n * QD);
    w->k = rt_alloc_floats(n * KD), w->v = rt_alloc_floats(n * KD);
    w->gate = rt_alloc_floats(n * c->intermediate_size), w->up = rt_alloc_floats(n * c->intermediate_size);
    w->xa = rt_alloc_floats(n * r);
    w->cos_t = rt_alloc_floats(n * hd / 2), w->sin_t = rt_alloc_floats(n * hd / 2), w->inv = rt_alloc_floats(hd / 2);
    w->scores = rt_alloc_floats((size_t)threads * score_len * (c->n_heads / c->n_kv_heads));
    w->row_seq = rt_malloc(sizeof(int) * n), w->row_pos = rt_malloc(sizeof(int) * n);
    w->row_logit = rt_malloc(sizeof(int) * n);
    w->rows = rows, w->r = r, w->score_len = score_len, w->n_threads = threads;
    rt_rope_inv_freq(w->inv, c->head_dim, &c->rope);
    return RT_OK;
}

/* out (N, o) (+)= x W^T + b, plus the LoRA adapter of (l, p) when there is one. */
static void linear(const rt_model *m, rt_gen_work *w, int l, rt_proj p, const float *x, float *out, int N, int acc) {
    int o, in;
    rt_proj_dims(&m->cfg, p, &o, &in);
    const uint16_t *wb = w->bf16 && m->proj_bf16 ? m->proj_bf16[l * RT_N_PROJ + p] : NULL;
    rt_gen_linear(out, o, x, N, in, wb ? NULL : m->w.layers[l].w[p], wb, m->w.layers[l].b[p], o, acc);
    const rt_lora_linear *ad = m->has_lora ? &m->lora[l * RT_N_PROJ + p] : NULL;
    if (!ad || !ad->A) return;
    int r = m->lora_cfg.r;
    rt_gen_linear(w->xa, r, x, N, in, ad->A, NULL, NULL, r, 0);
    for (size_t i = 0; i < (size_t)N * r; i++) w->xa[i] *= m->lora_scale;
    rt_gen_linear(out, o, w->xa, N, r, ad->B, NULL, NULL, o, 1);
}

/* Every (row, KV head) pair's attention over its sequence's cache, spread over the threads; the query
 * heads of a KV head go together so its keys and values are read once for all of them. */
static void attention(const rt_model *m, rt_gen_work *w, const rt_gen_seq *seqs, int l, int N) {
    const rt_model_config *c = &m->cfg;
    int nkv = c->n_kv_heads, hd = c->head_dim, KD = nkv * hd, group = c->n_heads / nkv;
#pragma omp parallel for schedule(dynamic, 1) if ((size_t)N * nkv > 2)
    for (int t = 0; t < N * nkv; t++) {
        int i = t / nkv, g = t % nkv, pos = w->row_pos[i];
        const rt_kv_cache *kc = seqs[w->row_seq[i]].cache;
        size_t layer = (size_t)l * kc->max_len * KD + (size_t)g * hd, at = ((size_t)i * c->n_heads + (size_t)g * group) * hd;
        int lo = (c->sliding_window > 0 && pos - c->sliding_window + 1 > 0) ? pos - c->sliding_window + 1 : 0;
        float *scores = w->scores + (size_t)omp_get_thread_num() * w->score_len * group;
        rt_gen_attend_group(w->att + at, w->q + at, group, kc->k + layer, kc->v + layer, KD, lo, pos, hd, scores);
    }
}

/* One chunk of N rows (row i: token toks[i] of sequence row_seq[i] at position row_pos[i]). */
static void forward_chunk(rt_model *m, rt_gen_work *w, const rt_gen_seq *seqs, const int32_t *toks, int N) {
    const rt_model_config *c = &m->cfg;
    int H = c->hidden_size, I = c->intermediate_size, hd = c->head_dim, half = hd / 2;
    int KD = c->n_kv_heads * hd;
    rt_embedding_forward(w->x, toks, m->w.embed, N, H);
    for (int i = 0; i < N; i++)
        rt_rope_tables(w->cos_t + (size_t)i * half, w->sin_t + (size_t)i * half, w->inv, hd, w->row_pos[i], 1);
    for (int l = 0; l < c->n_layers; l++) {
        const rt_layer_weights *L = &m->w.layers[l];
        rt_rmsnorm_forward(w->ln, NULL, w->x, L->attn_norm, N, H, c->rms_norm_eps);
        linear(m, w, l, RT_PROJ_Q, w->ln, w->q, N, 0);
        linear(m, w, l, RT_PROJ_K, w->ln, w->k, N, 0);
        linear(m, w, l, RT_PROJ_V, w->ln, w->v, N, 0);
        /* each row is its own "batch" of one position in the rope kernel's terms */
        rt_rope_forward(w->q, w->cos_t, w->sin_t, 1, N, c->n_heads, hd);
        rt_rope_forward(w->k, w->cos_t, w->sin_t, 1, N, c->n_kv_heads, hd);
        for (int i = 0; i < N; i++) {
            const rt_kv_cache *kc = seqs[w->row_seq[i]].cache;
            size_t at = ((size_t)l * kc->max_len + w->row_pos[i]) * KD;
            memcpy(kc->k + at, w->k + (size_t)i * KD, sizeof(float) * KD);
            memcpy(kc->v + at, w->v + (size_t)i * KD, sizeof(float) * KD);
        }
        attention(m, w, seqs, l, N);
        linear(m, w, l, RT_PROJ_O, w->att, w->x, N, 1);
        rt_rmsnorm_forward(w->ln, NULL, w->x, L->mlp_norm, N, H, c->rms_norm_eps);
        linear(m, w, l, RT_PROJ_GATE, w->ln, w->gate, N, 0);
        linear(m, w, l, RT_PROJ_UP, w->ln, w->up, N, 0);
        rt_swiglu_forward_fast(w->gate, w->gate, w->up, (size_t)N * I);
        linear(m, w, l, RT_PROJ_DOWN, w->gate, w->x, N, 1);
    }
    /* The lm_head only for the rows whose logits are wanted: gather them, norm, project. */
    int nl = 0;
    for (int i = 0; i < N; i++)
        if (w->row_logit[i]) memcpy(w->ln + (size_t)nl++ * H, w->x + (size_t)i * H, sizeof(float) * H);
    if (!nl) return;
    rt_rmsnorm_forward(w->ln, NULL, w->ln, m->w.final_norm, nl, H, c->rms_norm_eps);
    const uint16_t *wb = w->bf16 ? m->lm_head_bf16 : NULL;
    size_t V = (size_t)c->vocab_size;
    if (nl > w->lg_rows) {
        rt_free_aligned(w->lg);
        w->lg = rt_alloc_floats((size_t)nl * V), w->lg_rows = nl;
    }
    /* all rows in one product: the (V, H) matrix is read once for them */
    rt_gen_linear(w->lg, (int)V, w->ln, nl, H, wb ? NULL : m->w.lm_head, wb, NULL, (int)V, 0);
    for (int i = 0, k = 0; i < N; i++)
        if (w->row_logit[i]) memcpy(seqs[w->row_seq[i]].logits, w->lg + (size_t)k++ * V, sizeof(float) * V);
}

static rt_status check_seqs(const rt_model *m, const rt_gen_seq *seqs, int n_seqs, int *max_len) {
    *max_len = 1;
    for (int s = 0; s < n_seqs; s++) {
        const rt_gen_seq *q = &seqs[s];
        if (q->n < 0) return rt_fail(RT_ERR_ARG, "decode: negative token count");
        if (q->cache->len + q->n > q->cache->max_len)
            return rt_fail(RT_ERR_ARG, "decode: %d tokens do not fit in the KV cache (%d of %d used)", q->n,
                           q->cache->len, q->cache->max_len);
        for (int i = 0; i < q->n; i++)
            if (q->tokens[i] < 0 || q->tokens[i] >= m->cfg.vocab_size)
                return rt_fail(RT_ERR_ARG, "decode: token id %d is outside the vocabulary (%d)", q->tokens[i],
                               m->cfg.vocab_size);
        int end = q->cache->len + q->n;
        *max_len = end > *max_len ? end : *max_len;
    }
    return RT_OK;
}

rt_status rt_gen_forward(rt_model *m, rt_gen_work *w, const rt_gen_seq *seqs, int n_seqs) {
    int max_len, total = 0;
    RT_TRY(check_seqs(m, seqs, n_seqs, &max_len));
    for (int s = 0; s < n_seqs; s++) total += seqs[s].n;
    if (total == 0) return RT_OK;
    int cap = total < RT_GEN_CHUNK_ROWS ? total : RT_GEN_CHUNK_ROWS;
    RT_TRY(work_reserve(m, w, cap, max_len));
    int32_t toks[RT_GEN_CHUNK_ROWS];
    int s = 0, off = 0;
    while (s < n_seqs) {
        int N = 0;
        /* fill a chunk with the next rows, sequence by sequence */
        for (; s < n_seqs && N < cap; off = 0, s++) {
            const rt_gen_seq *q = &seqs[s];
            for (; off < q->n && N < cap; off++, N++) {
                w->row_seq[N] = s, w->row_pos[N] = q->cache->len + off, toks[N] = q->tokens[off];
                w->row_logit[N] = q->logits && off == q->n - 1;
                if (q->ids) q->ids[q->cache->len + off] = q->tokens[off];
            }
            if (off < q->n) break; /* the chunk is full in the middle of this sequence */
        }
        if (N) forward_chunk(m, w, seqs, toks, N); /* N = 0 only for empty trailing sequences */
    }
    /* rows carry their own positions, so the lengths advance once all chunks are done */
    for (s = 0; s < n_seqs; s++) seqs[s].cache->len += seqs[s].n;
    return RT_OK;
}
