/* train_pass.c: the decoder's training forward pass (keeping activations) and its hand-written backward.
 *
 * Shapes: N = B*T tokens, H hidden, QD = heads*head_dim, KD = kv_heads*head_dim, I intermediate,
 * V vocabulary, r LoRA rank. res[l] is the residual stream entering layer l; res[L] leaves the last. */
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"

struct rt_model_acts {
    int B, T;
    /* Capacities the buffers were sized for: a batch of any (B, T) within them reuses the buffers, so
     * variable-length batches do not reallocate. */
    size_t cap_tokens; /* B*T */
    size_t cap_bt2;    /* B*T*T (attention probabilities) */
    int cap_T;
    float *res;        /* (L+1, N, H) */
    float *ln1, *rstd1, *ln2, *rstd2; /* (L,N,H), (L,N) */
    float *q, *k, *v;  /* (L,N,QD), (L,N,KD) after rope */
    float *probs;      /* (L,B,nh,T,T) */
    float *att;        /* (L,N,QD) */
    float *x_mid;      /* (L,N,H) */
    float *gate, *up, *hact; /* (L,N,I) */
    float *lora_xa;    /* (L,7,N,r) */
    float *lnf, *rstdf;
    float *logits;     /* (N,V), overwritten by its gradient in backward */
    int32_t *ids, *targets;
    float *cos_t, *sin_t, *inv_freq;
    /* backward scratch */
    float *d_res, *d_ln, *d_big1, *d_big2, *d_q, *d_k, *d_v, *d_att, *att_scratch, *d_xa, *xdrop;
    /* bf16 base only: a product's input rounded to bf16 (N, widest), the logits' gradient (N,V), and
     * each row's log-sum-exp (N) from the loss */
    uint16_t *xb, *dlogits_b;
    float *lse;
    float *attn_bf16; /* the bf16 attention's scratch */
    int n_valid;
    int has_forward;
};

void rt_model_acts_free(rt_model_acts *a) {
    if (!a) return;
    float *bufs[] = {a->res, a->ln1, a->rstd1, a->ln2, a->rstd2, a->q, a->k, a->v, a->probs, a->att, a->x_mid,
                     a->gate, a->up, a->hact, a->lora_xa, a->lnf, a->rstdf, a->logits, a->cos_t, a->sin_t,
                     a->inv_freq, a->d_res, a->d_ln, a->d_big1, a->d_big2, a->d_q, a->d_k, a->d_v, a->d_att,
                     a->att_scratch, a->d_xa, a->xdrop};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) rt_free_aligned(bufs[i]);
    rt_free_aligned(a->xb);
    rt_free_aligned(a->dlogits_b);
    rt_free_aligned(a->lse);
    rt_free_aligned(a->attn_bf16);
    free(a->ids);
    free(a->targets);
    free(a);
}

static int max3(int a, int b, int c) { return a > b ? (a > c ? a : c) : (b > c ? b : c); }

static rt_model_acts *acts_alloc(const rt_model *m, size_t N, size_t BT2, int T) {
    const rt_model_config *c = &m->cfg;
    size_t L = (size_t)c->n_layers, H = (size_t)c->hidden_size;
    size_t QD = (size_t)c->n_heads * c->head_dim, KD = (size_t)c->n_kv_heads * c->head_dim;
    size_t I = (size_t)c->intermediate_size, V = (size_t)c->vocab_size;
    size_t r = m->has_lora ? (size_t)m->lora_cfg.r : 0;
    rt_model_acts *a = rt_calloc(1, sizeof *a);
    a->cap_tokens = N, a->cap_bt2 = BT2, a->cap_T = T;
    a->res = rt_alloc_floats((L + 1) * N * H);
    a->ln1 = rt_alloc_floats(L * N * H);
    a->rstd1 = rt_alloc_floats(L * N);
    a->ln2 = rt_alloc_floats(L * N * H);
    a->rstd2 = rt_alloc_floats(L * N);
    a->q = rt_alloc_floats(L * N * QD);
    a->k = rt_alloc_floats(L * N * KD);
    a->v = rt_alloc_floats(L * N * KD);
    a->probs = rt_alloc_floats(L * BT2 * c->n_heads);
    a->att = rt_alloc_floats(L * N * QD);
    a->x_mid = rt_alloc_floats(L * N * H);
    a->gate = rt_alloc_floats(L * N * I);
    a->up = rt_alloc_floats(L * N * I);
    a->hact = rt_alloc_floats(L * N * I);
    a->lora_xa = r ? rt_alloc_floats(L * RT_N_PROJ * N * r) : NULL;
    a->lnf = rt_alloc_floats(N * H);
    a->rstdf = rt_alloc_floats(N);
    a->logits = rt_alloc_floats(N * V);
    a->ids = rt_malloc(sizeof(int32_t) * N);
    a->targets = rt_malloc(sizeof(int32_t) * N);
    a->inv_freq = rt_alloc_floats((size_t)c->head_dim / 2);
    a->cos_t = rt_alloc_floats((size_t)T * c->head_dim / 2);
    a->sin_t = rt_alloc_floats((size_t)T * c->head_dim / 2);
    rt_rope_inv_freq(a->inv_freq, c->head_dim, &c->rope);
    rt_rope_tables(a->cos_t, a->sin_t, a->inv_freq, c->head_dim, 0, T);
    size_t widest = (size_t)max3((int)H, (int)QD, (int)I);
    a->d_res = rt_alloc_floats(N * H);
    a->d_ln = rt_alloc_floats(N * H);
    a->d_big1 = rt_alloc_floats(N * widest);
    a->d_big2 = rt_alloc_floats(N * widest);
    a->d_q = rt_alloc_floats(N * QD);
    a->d_k = rt_alloc_floats(N * KD);
    a->d_v = rt_alloc_floats(N * KD);
    a->d_att = rt_alloc_floats(N * QD);
    a->att_scratch = rt_alloc_floats((size_t)T * T);
    a->d_xa = r ? rt_alloc_floats(N * r) : NULL;
    a->xdrop = (r && m->lora_cfg.dropout > 0.0f) ? rt_alloc_floats(N * widest) : NULL;
    if (m->base_bf16) {
        /* Two bf16 values per float of the allocation. */
        a->xb = (uint16_t *)rt_alloc_floats((N * widest + 1) / 2);
        a->dlogits_b = (uint16_t *)rt_alloc_floats((N * V + 1) / 2);
        a->lse = rt_alloc_floats(N);
        rt_attn_shape cap = {.B = 1, .T = T, .n_heads = c->n_heads, .n_kv_heads = c->n_kv_heads, .head_dim = c->head_dim};
        a->attn_bf16 = rt_alloc_floats(rt_attention_bf16_scratch(&cap)); /* per batch row: T suffices */
    }
    return a;
}

const float *rt_model_logits(const rt_model *m) { return m->acts && m->acts->has_forward ? m->acts->logits : NULL; }

void rt_causal_targets(int32_t *targets, const int32_t *ids, const int32_t *loss_mask, int B, int T) {
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            size_t i = (size_t)b * T + t;
            targets[i] = (t + 1 < T && (!loss_mask || loss_mask[i + 1])) ? ids[i + 1] : -1;
        }
}

/* The dropout mask of adapter (l, p) in the current step, regenerated identically in backward. */
static uint64_t dropout_seed(const rt_model *m, int l, int p) {
    return m->dropout_seed ^ ((uint64_t)m->forward_count << 20) ^ ((uint64_t)l << 4) ^ (uint64_t)p;
}

static int dropout_on(const rt_model *m) { return m->training && m->lora_cfg.dropout > 0.0f; }

/* The adapter's input: x itself, or a dropped-out copy in a->xdrop. */
static const float *lora_input(const rt_model *m, int l, int p, const float *x, size_t n) {
    if (!dropout_on(m)) return x;
    memcpy(m->acts->xdrop, x, sizeof(float) * n);
    rt_dropout_apply(m->acts->xdrop, n, m->lora_cfg.dropout, dropout_seed(m, l, p));
    return m->acts->xdrop;
}

/* Whether this pass runs the base products in bf16 (never in full fine-tuning: the copy would go stale). */
static int base_bf16_on(const rt_model *m) { return m->base_bf16 && !m->train_full; }

/* The adapters' float32 products: OpenBLAS in the float32 mode (bit for bit what the reference tests
 * pinned), oneDNN's matmul when the base runs in bf16 (measured 3x faster than OpenBLAS on these skinny
 * shapes, which were a quarter of a bf16 step). With fast = 0 always OpenBLAS: generation calls with
 * many small shapes, each of which would compile a oneDNN primitive. */
static rt_status lora_gemm(int fast, int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                           const float *B, int ldb, float beta, float *C, int ldc) {
    if (fast) return rt_sgemm_onednn(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    rt_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return RT_OK;
}

/* out (N,out) += scale (lora_x A^T) B^T when (l, p) has an adapter, with lora_x A^T written to xa. */
static rt_status lora_forward(const rt_model *m, int fast, int l, rt_proj p, const float *lora_x, float *out, int N,
                              float *xa) {
    const rt_lora_linear *ad = m->has_lora ? &m->lora[l * RT_N_PROJ + p] : NULL;
    if (!ad || !ad->A) return RT_OK;
    int r = m->lora_cfg.r;
    RT_TRY(lora_gemm(fast, 0, 1, N, r, ad->in, 1.0f, lora_x, ad->in, ad->A, ad->in, 0.0f, xa, r));
    return lora_gemm(fast, 0, 1, N, ad->out, r, m->lora_scale, xa, r, ad->B, r, 1.0f, out, ad->out);
}

void rt_linear_apply(const rt_model *m, int l, rt_proj p, const float *x, const float *lora_x, float *out, int N,
                     int accumulate, float *xa) {
    const rt_layer_weights *L = &m->w.layers[l];
    int o, in;
    rt_proj_dims(&m->cfg, p, &o, &in);
    rt_matmul_forward(out, x, L->w[p], L->b[p], N, in, o, accumulate);
    (void)lora_forward(m, 0, l, p, lora_x, out, N, xa); /* OpenBLAS: cannot fail */
}

/* out (N,out) (+)= x W^T + b + scale (drop(x) A^T) B^T, keeping x A^T for the backward pass. xb is x
 * rounded to bf16 when the base runs in bf16, else NULL. */
static rt_status lin_forward(rt_model *m, int l, rt_proj p, const float *x, const uint16_t *xb, float *out, int N,
                             int accumulate) {
    int o, in;
    rt_proj_dims(&m->cfg, p, &o, &in);
    const rt_lora_linear *ad = m->has_lora ? &m->lora[l * RT_N_PROJ + p] : NULL;
    float *xa = NULL;
    const float *xin = x;
    if (ad && ad->A) {
        xa = m->acts->lora_xa + ((size_t)l * RT_N_PROJ + p) * (size_t)N * m->lora_cfg.r;
        xin = lora_input(m, l, p, x, (size_t)N * in);
    }
    if (!xb) {
        rt_linear_apply(m, l, p, x, xin, out, N, accumulate, xa);
        return RT_OK;
    }
    RT_TRY(rt_matmul_forward_bf16(out, xb, m->proj_bf16[l * RT_N_PROJ + p], m->w.layers[l].b[p], N, in, o, accumulate));
    return lora_forward(m, 1, l, p, xin, out, N, xa);
}

/* x rounded to bf16 in the activations' scratch when the base runs in bf16, else NULL. */
static const uint16_t *to_bf16(const rt_model *m, const float *x, size_t n) {
    if (!base_bf16_on(m)) return NULL;
    rt_bf16_round_array(m->acts->xb, x, n);
    return m->acts->xb;
}

/* Given dout (N,out): dx (N,in) += dout W (+ the adapter's path); trainable gradients accumulate. */
static rt_status lin_backward(rt_model *m, int l, rt_proj p, const float *dout, const float *x, float *dx, int N) {
    const rt_layer_weights *L = &m->w.layers[l];
    int o, in;
    rt_proj_dims(&m->cfg, p, &o, &in);
    if (base_bf16_on(m)) {
        RT_TRY(rt_matmul_backward_bf16(dx, to_bf16(m, dout, (size_t)N * o), m->proj_bf16[l * RT_N_PROJ + p], N, in, o));
    } else {
        float *dW = m->train_full ? m->g.layers[l].w[p] : NULL;
        float *db = m->train_full ? m->g.layers[l].b[p] : NULL;
        rt_matmul_backward(dx, dW, db, dout, x, L->w[p], N, in, o);
    }
    const rt_lora_linear *ad = m->has_lora ? &m->lora[l * RT_N_PROJ + p] : NULL;
    if (!ad || !ad->A) return RT_OK;
    int r = m->lora_cfg.r, fast = base_bf16_on(m);
    float s = m->lora_scale;
    const float *xa = m->acts->lora_xa + ((size_t)l * RT_N_PROJ + p) * (size_t)N * r;
    float *dxa = m->acts->d_xa;
    RT_TRY(lora_gemm(fast, 1, 0, o, r, N, s, dout, o, xa, r, 1.0f, ad->dB, r)); /* dB += s dout^T xa */
    RT_TRY(lora_gemm(fast, 0, 0, N, r, o, s, dout, o, ad->B, r, 0.0f, dxa, r)); /* dxa = s dout B */
    const float *xin = lora_input(m, l, p, x, (size_t)N * in);
    RT_TRY(lora_gemm(fast, 1, 0, r, in, N, 1.0f, dxa, r, xin, in, 1.0f, ad->dA, in)); /* dA += dxa^T drop(x) */
    if (dropout_on(m)) {
        /* The gradient through dropout is the same mask applied to dxa A. */
        float *tmp = m->acts->xdrop;
        RT_TRY(lora_gemm(fast, 0, 0, N, in, r, 1.0f, dxa, r, ad->A, in, 0.0f, tmp, in));
        rt_dropout_apply(tmp, (size_t)N * in, m->lora_cfg.dropout, dropout_seed(m, l, p));
        rt_axpy(dx, tmp, 1.0f, (size_t)N * in);
        return RT_OK;
    }
    return lora_gemm(fast, 0, 0, N, in, r, 1.0f, dxa, r, ad->A, in, 1.0f, dx, in); /* dx += dxa A */
}

rt_status rt_model_forward(rt_model *m, const int32_t *ids, const int32_t *targets, int B, int T, float *loss) {
    const rt_model_config *c = &m->cfg;
    if (B <= 0 || T <= 0) return rt_fail(RT_ERR_ARG, "forward: batch %d x %d tokens is empty", B, T);
    size_t N = (size_t)B * T;
    for (size_t i = 0; i < N; i++) {
        if (ids[i] < 0 || ids[i] >= c->vocab_size)
            return rt_fail(RT_ERR_ARG, "forward: token id %d at position %zu is outside the vocabulary (%d)", ids[i], i,
                           c->vocab_size);
        if (targets && targets[i] >= c->vocab_size)
            return rt_fail(RT_ERR_ARG, "forward: target id %d at position %zu is outside the vocabulary", targets[i], i);
    }
    size_t bt2 = N * (size_t)T;
    rt_model_acts *a = m->acts;
    if (a && (a->cap_tokens < N || a->cap_bt2 < bt2 || a->cap_T < T)) {
        /* Grow to cover both the old and the new shape, so alternating shapes settle quickly. */
        size_t capN = a->cap_tokens > N ? a->cap_tokens : N, capB = a->cap_bt2 > bt2 ? a->cap_bt2 : bt2;
        int capT = a->cap_T > T ? a->cap_T : T;
        rt_model_acts_free(a);
        a = m->acts = acts_alloc(m, capN, capB, capT);
    }
    if (!a) a = m->acts = acts_alloc(m, N, bt2, T);
    a->B = B, a->T = T;
    a->has_forward = 0; /* until this pass completes: a failed pass leaves nothing to differentiate */
    int H = c->hidden_size, QD = c->n_heads * c->head_dim, KD = c->n_kv_heads * c->head_dim;
    int I = c->intermediate_size, V = c->vocab_size, Ni = (int)N;
    memcpy(a->ids, ids, sizeof(int32_t) * N);
    if (targets) memcpy(a->targets, targets, sizeof(int32_t) * N);
    else for (size_t i = 0; i < N; i++) a->targets[i] = -1;
    m->forward_count++;
    rt_attn_shape as = {B, T, c->n_heads, c->n_kv_heads, c->head_dim, c->sliding_window};

    rt_embedding_forward(a->res, ids, m->w.embed, Ni, H);
    for (int l = 0; l < c->n_layers; l++) {
        const rt_layer_weights *L = &m->w.layers[l];
        float *res = a->res + (size_t)l * N * H, *res_next = res + N * H;
        float *ln1 = a->ln1 + (size_t)l * N * H, *ln2 = a->ln2 + (size_t)l * N * H;
        float *q = a->q + (size_t)l * N * QD, *k = a->k + (size_t)l * N * KD, *v = a->v + (size_t)l * N * KD;
        float *att = a->att + (size_t)l * N * QD, *x_mid = a->x_mid + (size_t)l * N * H;
        float *gate = a->gate + (size_t)l * N * I, *up = a->up + (size_t)l * N * I, *hact = a->hact + (size_t)l * N * I;
        rt_rmsnorm_forward(ln1, a->rstd1 + (size_t)l * N, res, L->attn_norm, Ni, H, c->rms_norm_eps);
        const uint16_t *xb = to_bf16(m, ln1, N * H);
        RT_TRY(lin_forward(m, l, RT_PROJ_Q, ln1, xb, q, Ni, 0));
        RT_TRY(lin_forward(m, l, RT_PROJ_K, ln1, xb, k, Ni, 0));
        RT_TRY(lin_forward(m, l, RT_PROJ_V, ln1, xb, v, Ni, 0));
        rt_rope_forward(q, a->cos_t, a->sin_t, B, T, c->n_heads, c->head_dim);
        rt_rope_forward(k, a->cos_t, a->sin_t, B, T, c->n_kv_heads, c->head_dim);
        float *probs = a->probs + (size_t)l * B * c->n_heads * T * T;
        if (base_bf16_on(m)) RT_TRY(rt_attention_forward_bf16(att, probs, q, k, v, &as, a->attn_bf16));
        else rt_attention_forward(att, probs, q, k, v, &as);
        memcpy(x_mid, res, sizeof(float) * N * H);
        RT_TRY(lin_forward(m, l, RT_PROJ_O, att, to_bf16(m, att, N * QD), x_mid, Ni, 1));
        rt_rmsnorm_forward(ln2, a->rstd2 + (size_t)l * N, x_mid, L->mlp_norm, Ni, H, c->rms_norm_eps);
        xb = to_bf16(m, ln2, N * H);
        RT_TRY(lin_forward(m, l, RT_PROJ_GATE, ln2, xb, gate, Ni, 0));
        RT_TRY(lin_forward(m, l, RT_PROJ_UP, ln2, xb, up, Ni, 0));
        if (base_bf16_on(m)) rt_swiglu_forward_fast(hact, gate, up, N * I);
        else rt_swiglu_forward(hact, gate, up, N * I);
        memcpy(res_next, x_mid, sizeof(float) * N * H);
        RT_TRY(lin_forward(m, l, RT_PROJ_DOWN, hact, to_bf16(m, hact, N * I), res_next, Ni, 1));
    }
    float *res_last = a->res + (size_t)c->n_layers * N * H;
    rt_rmsnorm_forward(a->lnf, a->rstdf, res_last, m->w.final_norm, Ni, H, c->rms_norm_eps);
    if (base_bf16_on(m)) RT_TRY(rt_matmul_forward_bf16(a->logits, to_bf16(m, a->lnf, N * H), m->lm_head_bf16, NULL, Ni, H, V, 0));
    else rt_matmul_forward(a->logits, a->lnf, m->w.lm_head, NULL, Ni, H, V, 0);
    float l = base_bf16_on(m) ? rt_cross_entropy_forward_fast(a->logits, a->targets, Ni, V, &a->n_valid, a->lse)
                              : rt_cross_entropy_forward(a->logits, a->targets, Ni, V, &a->n_valid);
    if (loss) *loss = l;
    a->has_forward = 1;
    return RT_OK;
}

rt_status rt_model_backward(rt_model *m, float grad_scale) {
    rt_model_acts *a = m->acts;
    if (!a || !a->has_forward) return rt_fail(RT_ERR_STATE, "backward called without a forward pass");
    if (!m->train_full && !m->has_lora) return rt_fail(RT_ERR_STATE, "backward: nothing is trainable (call rt_model_train_setup)");
    const rt_model_config *c = &m->cfg;
    int B = a->B, T = a->T, Ni = B * T;
    size_t N = (size_t)Ni;
    int H = c->hidden_size, QD = c->n_heads * c->head_dim, KD = c->n_kv_heads * c->head_dim;
    int I = c->intermediate_size, V = c->vocab_size;
    rt_attn_shape as = {B, T, c->n_heads, c->n_kv_heads, c->head_dim, c->sliding_window};
    rt_weights *g = m->train_full ? &m->g : NULL;

    /* Loss -> logits (in place) -> final norm -> residual stream. */
    float scale = a->n_valid ? grad_scale / (float)a->n_valid : 0.0f;
    memset(a->d_ln, 0, sizeof(float) * N * H);
    if (base_bf16_on(m)) {
        rt_cross_entropy_backward_bf16(a->dlogits_b, a->logits, a->lse, a->targets, Ni, V, scale);
        RT_TRY(rt_matmul_backward_bf16(a->d_ln, a->dlogits_b, m->lm_head_bf16, Ni, H, V));
    } else {
        rt_cross_entropy_backward(a->logits, a->logits, a->targets, Ni, V, scale);
        rt_matmul_backward(a->d_ln, g ? g->lm_head : NULL, NULL, a->logits, a->lnf, m->w.lm_head, Ni, H, V);
    }
    memset(a->d_res, 0, sizeof(float) * N * H);
    rt_rmsnorm_backward(a->d_res, g ? g->final_norm : NULL, a->d_ln, a->res + (size_t)c->n_layers * N * H,
                        m->w.final_norm, a->rstdf, Ni, H);

    for (int l = c->n_layers - 1; l >= 0; l--) {
        const rt_layer_weights *L = &m->w.layers[l];
        rt_layer_weights *G = g ? &g->layers[l] : NULL;
        float *res = a->res + (size_t)l * N * H;
        float *ln1 = a->ln1 + (size_t)l * N * H, *ln2 = a->ln2 + (size_t)l * N * H;
        float *q = a->q + (size_t)l * N * QD, *k = a->k + (size_t)l * N * KD, *v = a->v + (size_t)l * N * KD;
        float *att = a->att + (size_t)l * N * QD, *x_mid = a->x_mid + (size_t)l * N * H;
        float *gate = a->gate + (size_t)l * N * I, *up = a->up + (size_t)l * N * I, *hact = a->hact + (size_t)l * N * I;

        /* MLP: d_res is d(res[l+1]) and also d(x_mid) through the residual. */
        float *d_h = a->d_big1;
        memset(d_h, 0, sizeof(float) * N * I);
        RT_TRY(lin_backward(m, l, RT_PROJ_DOWN, a->d_res, hact, d_h, Ni));
        float *d_gate = a->d_big2, *d_up = a->d_big1;
        /* d_up may alias d_h: swiglu reads dh[i] before writing dup[i]. */
        if (base_bf16_on(m)) rt_swiglu_backward_fast(d_gate, d_up, d_h, gate, up, N * I);
        else rt_swiglu_backward(d_gate, d_up, d_h, gate, up, N * I);
        memset(a->d_ln, 0, sizeof(float) * N * H);
        RT_TRY(lin_backward(m, l, RT_PROJ_GATE, d_gate, ln2, a->d_ln, Ni));
        RT_TRY(lin_backward(m, l, RT_PROJ_UP, d_up, ln2, a->d_ln, Ni));
        rt_rmsnorm_backward(a->d_res, G ? G->mlp_norm : NULL, a->d_ln, x_mid, L->mlp_norm, a->rstd2 + (size_t)l * N, Ni, H);

        /* Attention: d_res is now d(x_mid), which flows to res[l] and through o_proj. */
        memset(a->d_att, 0, sizeof(float) * N * QD);
        RT_TRY(lin_backward(m, l, RT_PROJ_O, a->d_res, att, a->d_att, Ni));
        float *probs = a->probs + (size_t)l * B * c->n_heads * T * T;
        if (base_bf16_on(m))
            RT_TRY(rt_attention_backward_bf16(a->d_q, a->d_k, a->d_v, a->d_att, probs, q, k, v, &as, a->attn_bf16));
        else
            rt_attention_backward(a->d_q, a->d_k, a->d_v, a->d_att, probs, q, k, v, &as, a->att_scratch);
        rt_rope_backward(a->d_q, a->cos_t, a->sin_t, B, T, c->n_heads, c->head_dim);
        rt_rope_backward(a->d_k, a->cos_t, a->sin_t, B, T, c->n_kv_heads, c->head_dim);
        memset(a->d_ln, 0, sizeof(float) * N * H);
        RT_TRY(lin_backward(m, l, RT_PROJ_Q, a->d_q, ln1, a->d_ln, Ni));
        RT_TRY(lin_backward(m, l, RT_PROJ_K, a->d_k, ln1, a->d_ln, Ni));
        RT_TRY(lin_backward(m, l, RT_PROJ_V, a->d_v, ln1, a->d_ln, Ni));
        rt_rmsnorm_backward(a->d_res, G ? G->attn_norm : NULL, a->d_ln, res, L->attn_norm, a->rstd1 + (size_t)l * N, Ni, H);
    }
    if (g) rt_embedding_backward(g->embed, a->d_res, a->ids, Ni, H);
    a->has_forward = 0;
    return RT_OK;
}
