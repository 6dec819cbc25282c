/* generate.c: incremental decoding with a KV cache, sampling (greedy, temperature, top-p), stop strings. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"

/* Longest decoded continuation checked against stop strings. */
#define RT_STOP_DECODE_BYTES 4096

rt_status rt_kv_cache_init(rt_kv_cache *c, const rt_model *m, int max_len) {
    memset(c, 0, sizeof *c);
    if (max_len <= 0) return rt_fail(RT_ERR_ARG, "KV cache length must be positive");
    size_t per = (size_t)m->cfg.n_layers * max_len * m->cfg.n_kv_heads * m->cfg.head_dim;
    c->k = rt_try_alloc(sizeof(float) * per, "KV cache");
    c->v = c->k ? rt_try_alloc(sizeof(float) * per, "KV cache") : NULL;
    if (!c->v) {
        free(c->k);
        c->k = NULL;
        return RT_ERR_NOMEM;
    }
    c->max_len = max_len;
    return RT_OK;
}

void rt_kv_cache_free(rt_kv_cache *c) {
    free(c->k);
    free(c->v);
    memset(c, 0, sizeof *c);
}

/* Attention of n new queries (positions pos0..) over the cached keys 0..pos0+n-1 of one layer. */
static void cached_attention(float *out, const float *q, const float *kc, const float *vc, int n, int pos0,
                             const rt_model_config *cfg, float *scores) {
    int nh = cfg->n_heads, nkv = cfg->n_kv_heads, hd = cfg->head_dim, group = nh / nkv;
    int KD = nkv * hd;
    float scale = 1.0f / sqrtf((float)hd);
    for (int i = 0; i < n; i++) {
        int pos = pos0 + i;
        int lo = (cfg->sliding_window > 0 && pos - cfg->sliding_window + 1 > 0) ? pos - cfg->sliding_window + 1 : 0;
        for (int h = 0; h < nh; h++) {
            const float *qi = q + ((size_t)i * nh + h) * hd;
            int g = h / group;
            float mx = -INFINITY;
            for (int j = lo; j <= pos; j++) {
                const float *kj = kc + (size_t)j * KD + (size_t)g * hd;
                float d = 0.0f;
                for (int c = 0; c < hd; c++) d += qi[c] * kj[c];
                scores[j] = d * scale;
                mx = scores[j] > mx ? scores[j] : mx;
            }
            float sum = 0.0f;
            for (int j = lo; j <= pos; j++) sum += (scores[j] = expf(scores[j] - mx));
            float *o = out + ((size_t)i * nh + h) * hd;
            memset(o, 0, sizeof(float) * hd);
            for (int j = lo; j <= pos; j++) {
                const float *vj = vc + (size_t)j * KD + (size_t)g * hd;
                float p = scores[j] / sum;
                for (int c = 0; c < hd; c++) o[c] += p * vj[c];
            }
        }
    }
}

rt_status rt_model_decode(rt_model *m, rt_kv_cache *c, const int32_t *tokens, int n, float *logits) {
    const rt_model_config *cfg = &m->cfg;
    if (n <= 0) return rt_fail(RT_ERR_ARG, "decode: no tokens");
    if (c->len + n > c->max_len)
        return rt_fail(RT_ERR_ARG, "decode: %d tokens do not fit in the KV cache (%d of %d used)", n, c->len, c->max_len);
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= cfg->vocab_size)
            return rt_fail(RT_ERR_ARG, "decode: token id %d is outside the vocabulary (%d)", tokens[i], cfg->vocab_size);
    int H = cfg->hidden_size, I = cfg->intermediate_size, hd = cfg->head_dim;
    int QD = cfg->n_heads * hd, KD = cfg->n_kv_heads * hd;
    int r = m->has_lora ? m->lora_cfg.r : 1;
    size_t nn = (size_t)n;
    float *x = rt_alloc_floats(nn * H), *ln = rt_alloc_floats(nn * H);
    float *q = rt_alloc_floats(nn * QD), *att = rt_alloc_floats(nn * QD);
    float *gate = rt_alloc_floats(nn * I), *up = rt_alloc_floats(nn * I);
    float *xa = rt_alloc_floats(nn * r), *scores = rt_alloc_floats((size_t)c->max_len);
    float *inv = rt_alloc_floats((size_t)hd / 2), *cos_t = rt_alloc_floats(nn * hd / 2), *sin_t = rt_alloc_floats(nn * hd / 2);
    rt_rope_inv_freq(inv, hd, &cfg->rope);
    rt_rope_tables(cos_t, sin_t, inv, hd, c->len, n);
    rt_embedding_forward(x, tokens, m->w.embed, n, H);
    for (int l = 0; l < cfg->n_layers; l++) {
        const rt_layer_weights *L = &m->w.layers[l];
        float *kc = c->k + (size_t)l * c->max_len * KD, *vc = c->v + (size_t)l * c->max_len * KD;
        float *knew = kc + (size_t)c->len * KD, *vnew = vc + (size_t)c->len * KD;
        rt_rmsnorm_forward(ln, NULL, x, L->attn_norm, n, H, cfg->rms_norm_eps);
        rt_linear_apply(m, l, RT_PROJ_Q, ln, ln, q, n, 0, xa);
        rt_linear_apply(m, l, RT_PROJ_K, ln, ln, knew, n, 0, xa);
        rt_linear_apply(m, l, RT_PROJ_V, ln, ln, vnew, n, 0, xa);
        /* Each new token is its own "batch" row of length 1 in the rope kernel's terms. */
        rt_rope_forward(q, cos_t, sin_t, 1, n, cfg->n_heads, hd);
        rt_rope_forward(knew, cos_t, sin_t, 1, n, cfg->n_kv_heads, hd);
        cached_attention(att, q, kc, vc, n, c->len, cfg, scores);
        rt_linear_apply(m, l, RT_PROJ_O, att, att, x, n, 1, xa);
        rt_rmsnorm_forward(ln, NULL, x, L->mlp_norm, n, H, cfg->rms_norm_eps);
        rt_linear_apply(m, l, RT_PROJ_GATE, ln, ln, gate, n, 0, xa);
        rt_linear_apply(m, l, RT_PROJ_UP, ln, ln, up, n, 0, xa);
        rt_swiglu_forward(gate, gate, up, nn * I);
        rt_linear_apply(m, l, RT_PROJ_DOWN, gate, gate, x, n, 1, xa);
    }
    c->len += n;
    /* Only the last position's logits are needed. */
    float *last = x + (nn - 1) * H;
    rt_rmsnorm_forward(ln, NULL, last, m->w.final_norm, 1, H, cfg->rms_norm_eps);
    rt_matmul_forward(logits, ln, m->w.lm_head, NULL, 1, H, cfg->vocab_size, 0);
    float *bufs[] = {x, ln, q, att, gate, up, xa, scores, inv, cos_t, sin_t};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) rt_free_aligned(bufs[i]);
    return RT_OK;
}

rt_gen_params rt_gen_params_default(void) {
    rt_gen_params p = {.max_new_tokens = 64, .temperature = 0.0f, .top_p = 1.0f, .seed = 0, .eos_token_id = -1};
    return p;
}

typedef struct {
    float p;
    int id;
} prob_id;

static int by_prob_desc(const void *a, const void *b) {
    float pa = ((const prob_id *)a)->p, pb = ((const prob_id *)b)->p;
    if (pa != pb) return pa < pb ? 1 : -1;
    return ((const prob_id *)a)->id - ((const prob_id *)b)->id;
}

int rt_sample(float *logits, int V, float temperature, float top_p, rt_rng *rng) {
    int best = 0;
    for (int i = 1; i < V; i++)
        if (logits[i] > logits[best]) best = i; /* first maximum, as torch.argmax */
    if (temperature <= 0.0f) return best;
    float mx = logits[best];
    double sum = 0.0;
    for (int i = 0; i < V; i++) sum += (logits[i] = expf((logits[i] - mx) / temperature));
    prob_id *ps = rt_malloc(sizeof *ps * (size_t)V);
    for (int i = 0; i < V; i++) ps[i] = (prob_id){(float)(logits[i] / sum), i};
    int keep = V;
    if (top_p > 0.0f && top_p < 1.0f) {
        qsort(ps, (size_t)V, sizeof *ps, by_prob_desc);
        /* The smallest set of most likely tokens whose mass reaches top_p (at least one). */
        double cum = 0.0;
        for (keep = 0; keep < V;) {
            cum += ps[keep++].p;
            if (cum >= top_p) break;
        }
    }
    double mass = 0.0;
    for (int i = 0; i < keep; i++) mass += ps[i].p;
    double u = rt_rng_double(rng) * mass, acc = 0.0;
    int chosen = ps[keep - 1].id;
    for (int i = 0; i < keep; i++) {
        acc += ps[i].p;
        if (u < acc) {
            chosen = ps[i].id;
            break;
        }
    }
    free(ps);
    return chosen;
}

static int hits_stop(const rt_gen_params *p, const int32_t *out, int n, char *buf) {
    if (!p->stop_strings || !p->decode) return 0;
    int len = p->decode(p->decode_ctx, out, n, buf, RT_STOP_DECODE_BYTES - 1);
    if (len < 0) return 0;
    buf[len < RT_STOP_DECODE_BYTES ? len : RT_STOP_DECODE_BYTES - 1] = '\0';
    for (const char *const *s = p->stop_strings; *s; s++)
        if (**s && strstr(buf, *s)) return 1;
    return 0;
}

rt_status rt_generate(rt_model *m, const int32_t *prompt, int n_prompt, const rt_gen_params *p, int32_t *out,
                      int *n_out) {
    *n_out = 0;
    if (n_prompt <= 0) return rt_fail(RT_ERR_ARG, "generate: empty prompt");
    rt_kv_cache c;
    RT_TRY(rt_kv_cache_init(&c, m, n_prompt + (p->max_new_tokens > 0 ? p->max_new_tokens : 1)));
    float *logits = rt_alloc_floats((size_t)m->cfg.vocab_size);
    char *text = (p->stop_strings && p->decode) ? rt_malloc(RT_STOP_DECODE_BYTES) : NULL;
    rt_rng rng;
    rt_rng_seed(&rng, p->seed);
    rt_status s = rt_model_decode(m, &c, prompt, n_prompt, logits);
    int V = (p->vocab_limit > 0 && p->vocab_limit < m->cfg.vocab_size) ? p->vocab_limit : m->cfg.vocab_size;
    while (s == RT_OK && *n_out < p->max_new_tokens) {
        int32_t id = rt_sample(logits, V, p->temperature, p->top_p, &rng);
        if (id == p->eos_token_id) break;
        out[(*n_out)++] = id;
        if (hits_stop(p, out, *n_out, text) || *n_out == p->max_new_tokens) break;
        s = rt_model_decode(m, &c, &id, 1, logits);
    }
    free(text);
    rt_free_aligned(logits);
    rt_kv_cache_free(&c);
    return s;
}
