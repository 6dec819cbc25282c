/* gen_session.c: generation sessions (a KV cache that remembers its tokens, so a prompt that extends the
 * last one prefills only what is new) and batched generation (B sessions prefilled together and decoded
 * in lockstep, the projections of all of them one product per layer).
 *
 * Outputs equal one-at-a-time rt_generate bit for bit: every kernel computes a row the same way whatever
 * rows run beside it (gen_kernels.c), and each sequence samples with its own generator seeded from its
 * own parameters. */
#include <stdlib.h>
#include <string.h>

#include "model/gen_internal.h"

/* Longest decoded continuation checked against stop strings. */
#define RT_STOP_DECODE_BYTES 4096
/* Positions a new session allocates; it grows (doubling, up to its max_len) when a prompt needs more. */
#define RT_GEN_FIRST_ALLOC 512

struct rt_gen_session {
    rt_model *m;
    int limit;         /* most positions the session may hold; the cache grows up to it as needed */
    rt_kv_cache cache; /* cache.max_len: the positions allocated now */
    int32_t *ids;  /* the tokens the cache holds (cache.len of them) */
    rt_gen_work work;
    float *logits; /* (V) */
    char *text;    /* stop-string decode buffer, allocated on first use */
    prob_id *probs; /* sampling scratch (V), allocated on first sampled call */
    rt_gen_stats stats;
};

rt_status rt_gen_session_new(rt_model *m, int max_len, rt_gen_session **out) {
    *out = NULL;
    rt_gen_session *s = rt_try_alloc(sizeof *s, "generation session");
    if (!s) return RT_ERR_NOMEM;
    memset(s, 0, sizeof *s);
    s->m = m;
    if (max_len <= 0) {
        free(s);
        return rt_fail(RT_ERR_ARG, "generation session: max_len must be positive (got %d)", max_len);
    }
    s->limit = max_len;
    rt_status st = rt_kv_cache_init(&s->cache, m, max_len < RT_GEN_FIRST_ALLOC ? max_len : RT_GEN_FIRST_ALLOC);
    if (st != RT_OK) {
        free(s);
        return st;
    }
    s->ids = rt_try_alloc(sizeof(int32_t) * (size_t)s->cache.max_len, "generation session tokens");
    s->logits = rt_alloc_floats((size_t)m->cfg.vocab_size);
    if (!s->ids) {
        rt_gen_session_free(s);
        return RT_ERR_NOMEM;
    }
    *out = s;
    return RT_OK;
}

void rt_gen_session_free(rt_gen_session *s) {
    if (!s) return;
    rt_kv_cache_free(&s->cache);
    rt_gen_work_free(&s->work);
    free(s->ids);
    rt_free_aligned(s->logits);
    free(s->text);
    free(s->probs);
    free(s);
}

void rt_gen_session_reset(rt_gen_session *s) { s->cache.len = 0; }

int rt_gen_session_len(const rt_gen_session *s) { return s->cache.len; }

const int32_t *rt_gen_session_tokens(const rt_gen_session *s) { return s->ids; }

rt_gen_stats rt_gen_session_stats(const rt_gen_session *s) { return s->stats; }

rt_status rt_gen_session_set_bf16(rt_gen_session *s, int on) {
    if (on && !s->m->proj_bf16)
        return rt_fail(RT_ERR_ARG, "generation in bf16: the model has no bf16 copy (call rt_model_set_base_dtype first)");
    s->work.bf16 = on != 0;
    return RT_OK;
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

/* Keeps the longest prefix of the cache that the prompt repeats (at least one prompt token is always
 * run again: its logits start the generation) and returns how many tokens that kept. */
static int keep_common_prefix(rt_gen_session *s, const int32_t *prompt, int n_prompt) {
    int n = 0, lim = s->cache.len < n_prompt - 1 ? s->cache.len : n_prompt - 1;
    while (n < lim && s->ids[n] == prompt[n]) n++;
    s->cache.len = n;
    return n;
}

/* Makes room for `need` positions (need <= limit), keeping the cached ones. */
static rt_status session_reserve(rt_gen_session *s, int need) {
    if (need <= s->cache.max_len) return RT_OK;
    int cap = s->cache.max_len * 2 > need ? s->cache.max_len * 2 : need;
    cap = cap < s->limit ? cap : s->limit;
    rt_kv_cache grown;
    RT_TRY(rt_kv_cache_init(&grown, s->m, cap));
    int32_t *ids = rt_try_alloc(sizeof(int32_t) * (size_t)cap, "generation session tokens");
    if (!ids) {
        rt_kv_cache_free(&grown);
        return RT_ERR_NOMEM;
    }
    size_t KD = (size_t)s->m->cfg.n_kv_heads * s->m->cfg.head_dim, len = (size_t)s->cache.len;
    for (int l = 0; l < s->m->cfg.n_layers; l++) {
        memcpy(grown.k + (size_t)l * cap * KD, s->cache.k + (size_t)l * s->cache.max_len * KD, sizeof(float) * len * KD);
        memcpy(grown.v + (size_t)l * cap * KD, s->cache.v + (size_t)l * s->cache.max_len * KD, sizeof(float) * len * KD);
    }
    memcpy(ids, s->ids, sizeof(int32_t) * len);
    grown.len = s->cache.len;
    rt_kv_cache_free(&s->cache);
    free(s->ids);
    s->cache = grown, s->ids = ids;
    return RT_OK;
}

static rt_status check_batch(rt_gen_session *const *ss, int B, const int *n_prompts, const rt_gen_params *params) {
    if (B <= 0) return rt_fail(RT_ERR_ARG, "generate: no sequences");
    for (int b = 0; b < B; b++) {
        if (n_prompts[b] <= 0) return rt_fail(RT_ERR_ARG, "generate: sequence %d has an empty prompt", b);
        if (ss[b]->m != ss[0]->m) return rt_fail(RT_ERR_ARG, "generate: sessions %d and 0 belong to different models", b);
        int need = n_prompts[b] + (params[b].max_new_tokens > 0 ? params[b].max_new_tokens : 1);
        if (need > ss[b]->limit)
            return rt_fail(RT_ERR_ARG, "generate: sequence %d needs %d positions (%d prompt + %d new), its session holds %d",
                           b, need, n_prompts[b], params[b].max_new_tokens, ss[b]->limit);
        for (int c = 0; c < b; c++)
            if (ss[c] == ss[b]) return rt_fail(RT_ERR_ARG, "generate: sequences %d and %d share one session", c, b);
        RT_TRY(session_reserve(ss[b], need));
        if (params[b].temperature > 0.0f && !ss[b]->probs) {
            ss[b]->probs = rt_try_alloc(sizeof(prob_id) * (size_t)ss[b]->m->cfg.vocab_size, "sampling scratch");
            if (!ss[b]->probs) return RT_ERR_NOMEM;
        }
        if (params[b].stop_strings && params[b].decode && !ss[b]->text) {
            ss[b]->text = rt_try_alloc(RT_STOP_DECODE_BYTES, "stop-string buffer");
            if (!ss[b]->text) return RT_ERR_NOMEM;
        }
    }
    return RT_OK;
}

/* Samples each active sequence's next token; a finished sequence leaves the active list. Returns how
 * many stay active, with the token each feeds next in feed[]. */
static int sample_step(rt_gen_session *const *ss, const rt_gen_params *params, rt_rng *rngs, int32_t *const *outs,
                       int *n_outs, int *active, int n_active, int32_t *feed) {
    int kept = 0;
    for (int a = 0; a < n_active; a++) {
        int b = active[a];
        const rt_gen_params *p = &params[b];
        int V = ss[b]->m->cfg.vocab_size;
        V = (p->vocab_limit > 0 && p->vocab_limit < V) ? p->vocab_limit : V;
        if (n_outs[b] >= p->max_new_tokens) continue;
        int32_t id = rt_gen_sample(ss[b]->logits, V, p->temperature, p->top_k, p->top_p, &rngs[b], ss[b]->probs);
        if (id == p->eos_token_id) continue;
        outs[b][n_outs[b]++] = id;
        if (hits_stop(p, outs[b], n_outs[b], ss[b]->text) || n_outs[b] == p->max_new_tokens) continue;
        active[kept] = b, feed[b] = id;
        kept++;
    }
    return kept;
}

rt_status rt_generate_batch(rt_gen_session *const *ss, int B, const int32_t *const *prompts, const int *n_prompts,
                            const rt_gen_params *params, int32_t *const *outs, int *n_outs) {
    for (int b = 0; b < B; b++) n_outs[b] = 0;
    RT_TRY(check_batch(ss, B, n_prompts, params));
    rt_model *m = ss[0]->m;
    rt_gen_work *work = &ss[0]->work;
    rt_gen_seq *seqs = rt_malloc(sizeof *seqs * (size_t)B);
    rt_rng *rngs = rt_malloc(sizeof *rngs * (size_t)B);
    int *active = rt_malloc(sizeof *active * (size_t)B);
    int32_t *feed = rt_malloc(sizeof *feed * (size_t)B);
    /* prefill every sequence's new suffix together */
    for (int b = 0; b < B; b++) {
        int kept = keep_common_prefix(ss[b], prompts[b], n_prompts[b]);
        ss[b]->stats = (rt_gen_stats){.reused = kept, .prefilled = n_prompts[b] - kept};
        seqs[b] = (rt_gen_seq){&ss[b]->cache, ss[b]->ids, prompts[b] + kept, n_prompts[b] - kept, ss[b]->logits};
        rt_rng_seed(&rngs[b], params[b].seed);
        active[b] = b;
    }
    rt_status st = rt_gen_forward(m, work, seqs, B);
    int n_active = B;
    /* then one token per active sequence per step, until each stops */
    while (st == RT_OK && (n_active = sample_step(ss, params, rngs, outs, n_outs, active, n_active, feed)) > 0) {
        for (int a = 0; a < n_active; a++) {
            int b = active[a];
            seqs[a] = (rt_gen_seq){&ss[b]->cache, ss[b]->ids, &feed[b], 1, ss[b]->logits};
            ss[b]->stats.decoded++;
        }
        st = rt_gen_forward(m, work, seqs, n_active);
    }
    free(seqs);
    free(rngs);
    free(active);
    free(feed);
    return st;
}

rt_status rt_gen_session_generate(rt_gen_session *s, const int32_t *prompt, int n_prompt, const rt_gen_params *p,
                                  int32_t *out, int *n_out) {
    return rt_generate_batch(&s, 1, &prompt, &n_prompt, p, &out, n_out);
}
