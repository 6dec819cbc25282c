/* sft_data.c: SFT examples read from JSON lines (prompt/completion here; TRL's text and messages rows in
 * sft_rows.c), truncated by policy, batched for training. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "retrace/train.h"
#include "train/sft_internal.h"

struct rt_sft_data {
    size_t n, cap;
    int32_t **ids, **mask;
    int *len;
};

rt_sft_params rt_sft_params_default(void) {
    rt_sft_params p = {.max_len = 1024, .add_bos = 1, .add_eos = 1};
    return p;
}

static void push_example(rt_sft_data *d, int32_t *ids, int32_t *mask, int len) {
    if (d->n == d->cap) {
        d->cap = d->cap ? 2 * d->cap : 64;
        d->ids = rt_realloc(d->ids, sizeof *d->ids * d->cap);
        d->mask = rt_realloc(d->mask, sizeof *d->mask * d->cap);
        d->len = rt_realloc(d->len, sizeof *d->len * d->cap);
    }
    d->ids[d->n] = ids, d->mask[d->n] = mask, d->len[d->n] = len;
    d->n++;
}

/* Builds one example from the two texts, applying the truncation policy. Returns 0 when dropped, -1 when
 * the chat template cannot be rendered (rt_errmsg says why). */
static int build(rt_sft_data *d, const rt_tokenizer *tok, const rt_sft_params *p, const char *prompt,
                 const char *completion, rt_sft_stats *st) {
    rt_tok_ids pi = {0}, ci = {0};
    char *chat = NULL;
    if (p->chat) {
        rt_chat_message msg = {"user", prompt, NULL};
        if (rt_chat_render(tok, &msg, 1, 1, &chat) != RT_OK) return -1;
    }
    rt_tokenizer_encode(tok, chat ? chat : prompt, strlen(chat ? chat : prompt), 0, &pi);
    free(chat);
    rt_tokenizer_encode(tok, completion, strlen(completion), 0, &ci);
    int32_t bos = p->add_bos && !p->chat ? rt_tokenizer_bos_id(tok) : -1, eos = p->add_eos ? rt_tokenizer_eos_id(tok) : -1;
    size_t head = bos >= 0 ? 1 : 0, tail = ci.n + (eos >= 0 ? 1 : 0);
    int kept = 1;
    if (head + tail + 1 > (size_t)p->max_len || ci.n == 0) {
        /* Not even one context token fits beside the completion (or nothing to learn): drop. */
        st->dropped++;
        kept = 0;
    } else {
        size_t room = (size_t)p->max_len - head - tail, np = pi.n;
        size_t skip = np > room ? np - room : 0;
        if (skip) st->truncated++;
        size_t len = head + (np - skip) + tail;
        int32_t *ids = rt_malloc(sizeof(int32_t) * len), *mask = rt_calloc(len, sizeof(int32_t));
        size_t k = 0;
        if (bos >= 0) ids[k++] = bos;
        for (size_t i = skip; i < np; i++) ids[k++] = pi.ids[i];
        for (size_t i = 0; i < ci.n; i++) mask[k] = 1, ids[k++] = ci.ids[i];
        if (eos >= 0) mask[k] = 1, ids[k++] = eos;
        push_example(d, ids, mask, (int)len);
        st->kept++;
        st->tokens += len;
        st->target_tokens += tail;
    }
    rt_tok_ids_free(&pi);
    rt_tok_ids_free(&ci);
    return kept;
}

/* A text or messages row: cut at the end to max_len (as TRL cuts), dropped when no target is left (the
 * first token is never predicted). Takes the sequence's arrays. */
static void keep_sequence(rt_sft_data *d, const rt_sft_params *p, rt_sft_seq *q, rt_sft_stats *st) {
    if (q->n > (size_t)p->max_len) q->n = (size_t)p->max_len, st->truncated++;
    size_t targets = 0;
    for (size_t i = 1; i < q->n; i++) targets += q->mask[i] != 0;
    if (q->n > 0) q->mask[0] = 0;
    if (targets == 0) {
        st->dropped++;
        free(q->ids), free(q->mask);
        return;
    }
    push_example(d, q->ids, q->mask, (int)q->n);
    st->kept++;
    st->tokens += q->n;
    st->target_tokens += targets;
}

/* One JSON row by its kind: {"messages"}, {"text"} or {"prompt", "completion"}. */
static rt_status load_row(rt_sft_data *d, const rt_tokenizer *tok, const rt_sft_params *p, const json_t *o,
                          rt_sft_stats *st) {
    const json_t *messages = json_object_get(o, "messages");
    const char *text = json_string_value(json_object_get(o, "text"));
    const char *prompt = json_string_value(json_object_get(o, "prompt"));
    const char *completion = json_string_value(json_object_get(o, "completion"));
    if (messages || (text && !prompt)) {
        rt_sft_seq q = {0};
        rt_status s = messages ? rt_sft_messages_row(tok, messages, &q) : rt_sft_text_row(tok, text, &q);
        if (s != RT_OK) return free(q.ids), free(q.mask), s;
        keep_sequence(d, p, &q, st);
        return RT_OK;
    }
    if (!prompt)
        return rt_fail(RT_ERR_FORMAT, "missing string field 'prompt' (a row is {\"prompt\", \"completion\"}, "
                       "{\"messages\": [{\"role\", \"content\"}, ...]} or {\"text\"})");
    if (!completion) return rt_fail(RT_ERR_FORMAT, "missing string field 'completion'");
    return build(d, tok, p, prompt, completion, st) < 0 ? RT_ERR_ARG : RT_OK;
}

rt_status rt_sft_load(const char *path, const rt_tokenizer *tok, const rt_sft_params *p, rt_sft_data **out,
                      rt_sft_stats *st) {
    *out = NULL;
    memset(st, 0, sizeof *st);
    if (p->max_len < 2) return rt_fail(RT_ERR_ARG, "SFT max length must be at least 2 (got %d)", p->max_len);
    FILE *fp = fopen(path, "rb");
    if (!fp) return rt_fail(RT_ERR_IO, "%s: cannot open", path);
    rt_sft_data *d = rt_calloc(1, sizeof *d);
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    rt_status s = RT_OK;
    size_t lineno = 0;
    while (s == RT_OK && (got = getline(&line, &cap, fp)) >= 0) {
        lineno++;
        if (got == 0 || strspn(line, " \t\r\n") == (size_t)got) continue;
        json_error_t err;
        json_t *o = json_loadb(line, (size_t)got, 0, &err);
        if (!o) s = rt_fail(RT_ERR_FORMAT, "%s:%zu: invalid JSON: %s", path, lineno, err.text);
        else if (!json_is_object(o)) s = rt_fail(RT_ERR_FORMAT, "%s:%zu: an example must be a JSON object", path, lineno);
        if (s == RT_OK) {
            st->lines++;
            if ((s = load_row(d, tok, p, o, st)) != RT_OK) rt_fail_context(s, "%s:%zu", path, lineno);
        }
        json_decref(o);
    }
    free(line);
    fclose(fp);
    if (s == RT_OK && d->n == 0)
        s = rt_fail(RT_ERR_FORMAT, "%s: no usable example (%zu read, %zu longer than %d tokens)", path, st->lines,
                    st->dropped, p->max_len);
    if (s != RT_OK) {
        rt_sft_free(d);
        return s;
    }
    *out = d;
    return RT_OK;
}

void rt_sft_free(rt_sft_data *d) {
    if (!d) return;
    for (size_t i = 0; i < d->n; i++) free(d->ids[i]), free(d->mask[i]);
    free(d->ids), free(d->mask), free(d->len), free(d);
}

size_t rt_sft_count(const rt_sft_data *d) { return d->n; }

void rt_sft_example(const rt_sft_data *d, size_t i, const int32_t **ids, const int32_t **mask, int *len) {
    *ids = d->ids[i], *mask = d->mask[i], *len = d->len[i];
}

void rt_sft_sampler_init(rt_sft_sampler *s, const rt_sft_data *d, uint64_t seed) {
    s->data = d, s->seed = seed, s->cached_epoch = -1;
    s->perm = rt_malloc(sizeof(size_t) * d->n);
}

void rt_sft_sampler_free(rt_sft_sampler *s) {
    free(s->perm);
    s->perm = NULL;
}

static size_t example_at(rt_sft_sampler *s, int64_t k) {
    size_t n = s->data->n;
    int64_t epoch = k / (int64_t)n;
    if (epoch != s->cached_epoch) {
        rt_rng r;
        rt_rng_seed(&r, s->seed * 0x9E3779B97F4A7C15ull + (uint64_t)epoch);
        for (size_t i = 0; i < n; i++) s->perm[i] = i;
        for (size_t i = n - 1; i > 0; i--) { /* Fisher-Yates */
            size_t j = (size_t)rt_rng_below(&r, i + 1), t = s->perm[i];
            s->perm[i] = s->perm[j], s->perm[j] = t;
        }
        s->cached_epoch = epoch;
    }
    return s->perm[k % (int64_t)n];
}

/* Writes rows of examples into (B, T) buffers padded to the longest; returns that length. */
static int fill_rows(const rt_sft_data *d, const size_t *which, int B, int32_t *ids, int32_t *targets) {
    int T = 1;
    for (int b = 0; b < B; b++) T = d->len[which[b]] > T ? d->len[which[b]] : T;
    for (int b = 0; b < B; b++) {
        size_t e = which[b];
        int L = d->len[e];
        for (int t = 0; t < T; t++) {
            ids[b * T + t] = t < L ? d->ids[e][t] : 0;
            targets[b * T + t] = (t + 1 < L && d->mask[e][t + 1]) ? d->ids[e][t + 1] : -1;
        }
    }
    return T;
}

rt_status rt_sft_next_batch(void *ctx, rt_rng *rng, int64_t index, int32_t *ids, int32_t *targets, int B, int T,
                            int *T_used) {
    (void)rng;
    rt_sft_sampler *s = ctx;
    size_t which[B];
    for (int b = 0; b < B; b++) {
        which[b] = example_at(s, index * B + b);
        if (s->data->len[which[b]] > T)
            return rt_fail(RT_ERR_ARG, "SFT example of %d tokens exceeds the batch length %d", s->data->len[which[b]], T);
    }
    *T_used = fill_rows(s->data, which, B, ids, targets);
    return RT_OK;
}

rt_status rt_sft_eval_loss(const rt_sft_data *d, rt_model *m, int batch, float *loss) {
    int maxlen = 1;
    for (size_t i = 0; i < d->n; i++) maxlen = d->len[i] > maxlen ? d->len[i] : maxlen;
    int32_t *ids = rt_malloc(sizeof(int32_t) * (size_t)batch * maxlen), *tg = rt_malloc(sizeof(int32_t) * (size_t)batch * maxlen);
    size_t which[batch];
    double total = 0.0;
    size_t count = 0;
    rt_status s = RT_OK;
    for (size_t i = 0; i < d->n && s == RT_OK; i += (size_t)batch) {
        int B = (int)(d->n - i < (size_t)batch ? d->n - i : (size_t)batch);
        for (int b = 0; b < B; b++) which[b] = i + (size_t)b;
        int T = fill_rows(d, which, B, ids, tg);
        float l;
        s = rt_model_forward(m, ids, tg, B, T, &l);
        size_t valid = 0;
        for (int k = 0; k < B * T; k++) valid += tg[k] >= 0;
        total += (double)l * (double)valid;
        count += valid;
    }
    free(ids);
    free(tg);
    *loss = count ? (float)(total / (double)count) : 0.0f;
    return s;
}
