/* generate.c: the KV cache, one-call decoding and generation (on top of gen_forward.c and
 * gen_session.c), and sampling (greedy, temperature, top-p). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/gen_internal.h"

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

rt_status rt_model_decode(rt_model *m, rt_kv_cache *c, const int32_t *tokens, int n, float *logits) {
    if (n <= 0) return rt_fail(RT_ERR_ARG, "decode: no tokens");
    rt_gen_work w = {0};
    rt_gen_seq seq = {c, NULL, tokens, n, logits};
    rt_status s = rt_gen_forward(m, &w, &seq, 1);
    rt_gen_work_free(&w);
    return s;
}

rt_gen_params rt_gen_params_default(void) {
    rt_gen_params p = {.max_new_tokens = 64, .temperature = 0.0f, .top_p = 1.0f, .seed = 0, .eos_token_id = -1};
    return p;
}

static int by_prob_desc(const void *a, const void *b) {
    float pa = ((const prob_id *)a)->p, pb = ((const prob_id *)b)->p;
    if (pa != pb) return pa < pb ? 1 : -1;
    return ((const prob_id *)a)->id - ((const prob_id *)b)->id;
}

int rt_sample(float *logits, int V, float temperature, float top_p, rt_rng *rng) {
    prob_id *ps = temperature > 0.0f ? rt_malloc(sizeof *ps * (size_t)V) : NULL;
    int id = rt_gen_sample(logits, V, temperature, 0, top_p, rng, ps);
    free(ps);
    return id;
}

int rt_gen_sample(float *logits, int V, float temperature, int top_k, float top_p, rt_rng *rng, prob_id *ps) {
    int best = 0;
    for (int i = 1; i < V; i++)
        if (logits[i] > logits[best]) best = i; /* first maximum, as torch.argmax */
    if (temperature <= 0.0f) return best;
    float mx = logits[best];
    double sum = 0.0;
    for (int i = 0; i < V; i++) sum += (logits[i] = expf((logits[i] - mx) / temperature));
    for (int i = 0; i < V; i++) ps[i] = (prob_id){(float)(logits[i] / sum), i};
    int keep = V, cut_k = top_k > 0 && top_k < V, cut_p = top_p > 0.0f && top_p < 1.0f;
    if (cut_k || cut_p) qsort(ps, (size_t)V, sizeof *ps, by_prob_desc);
    if (cut_k) keep = top_k; /* the k most likely, ties to the lower id (so k = 1 is greedy) */
    double mass = 0.0;
    for (int i = 0; i < keep; i++) mass += ps[i].p;
    if (cut_p) {
        /* The smallest set of most likely tokens whose mass reaches top_p (at least one), of the top k's
         * mass when top-k cut first, as llama.cpp and transformers chain them. */
        double target = cut_k ? top_p * mass : top_p, cum = 0.0;
        int limit = keep;
        for (keep = 0; keep < limit;) {
            cum += ps[keep++].p;
            if (cum >= target) break;
        }
        mass = cum;
    }
    double u = rt_rng_double(rng) * mass, acc = 0.0;
    int chosen = ps[keep - 1].id;
    for (int i = 0; i < keep; i++) {
        acc += ps[i].p;
        if (u < acc) {
            chosen = ps[i].id;
            break;
        }
    }
    return chosen;
}

rt_status rt_generate(rt_model *m, const int32_t *prompt, int n_prompt, const rt_gen_params *p, int32_t *out,
                      int *n_out) {
    *n_out = 0;
    if (n_prompt <= 0) return rt_fail(RT_ERR_ARG, "generate: empty prompt");
    rt_gen_session *s;
    RT_TRY(rt_gen_session_new(m, n_prompt + (p->max_new_tokens > 0 ? p->max_new_tokens : 1), &s));
    rt_status st = rt_gen_session_generate(s, prompt, n_prompt, p, out, n_out);
    rt_gen_session_free(s);
    return st;
}
