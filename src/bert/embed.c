/* embed.c: texts to sentence embeddings: tokenize (in parallel), truncate, sort by length, run packed
 * groups of at most RT_BERT_BATCH_TOKENS tokens (one per thread at a time), pool (CLS or mean) and
 * L2-normalise. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "bert/bert_internal.h"

/* Truncation as transformers' tokenizer does it for one sequence: the text's tokens are cut at the end
 * so that they and the special tokens fit max_tokens. */
static void frame(const rt_bert *m, const rt_tok_ids *plain, rt_tok_ids *out) {
    size_t room = (size_t)m->max_tokens - m->prefix.n - m->suffix.n;
    size_t n = plain->n < room ? plain->n : room;
    for (size_t i = 0; i < m->prefix.n; i++) rt_tok_ids_push(out, m->prefix.ids[i]);
    for (size_t i = 0; i < n; i++) rt_tok_ids_push(out, plain->ids[i]);
    for (size_t i = 0; i < m->suffix.n; i++) rt_tok_ids_push(out, m->suffix.ids[i]);
}

rt_status rt_bert_tokenize(const rt_bert *m, const char *text, rt_tok_ids *out) {
    rt_tok_ids plain = {0};
    rt_status s = rt_tokenizer_encode(m->tok, text, strlen(text), 0, &plain);
    if (s == RT_OK) frame(m, &plain, out);
    rt_tok_ids_free(&plain);
    return s;
}

/* out (dim) = normalise(pool(hidden rows of one sequence)). */
static void pool(const rt_bert *m, const float *hidden, int L, float *out) {
    int H = m->cfg.hidden;
    if (m->pooling == RT_BERT_POOL_CLS) {
        memcpy(out, hidden, (size_t)H * sizeof *out);
    } else {
        double *acc = rt_calloc((size_t)H, sizeof *acc);
        for (int t = 0; t < L; t++)
            for (int i = 0; i < H; i++) acc[i] += hidden[(size_t)t * H + i];
        for (int i = 0; i < H; i++) out[i] = (float)(acc[i] / L);
        free(acc);
    }
    double n2 = 0.0;
    for (int i = 0; i < H; i++) n2 += (double)out[i] * out[i];
    /* As torch.nn.functional.normalize: the norm is clamped at 1e-12, so a zero vector stays zero. */
    float inv = (float)(1.0 / fmax(sqrt(n2), 1e-12));
    for (int i = 0; i < H; i++) out[i] *= inv;
}

typedef struct {
    size_t len;
    int idx;
} len_idx;

static int longer_first(const void *a, const void *b) {
    const len_idx *x = a, *y = b;
    if (x->len != y->len) return x->len > y->len ? -1 : 1;
    return x->idx - y->idx;
}

/* Indices of the sequences, longest first (ties in input order): neighbours in a batch then have
 * similar lengths, which keeps the per-sequence attention work even across threads. */
static int *order_by_length(const rt_tok_ids *seqs, int n) {
    len_idx *li = rt_malloc((size_t)(n > 0 ? n : 1) * sizeof *li);
    for (int i = 0; i < n; i++) li[i] = (len_idx){seqs[i].n, i};
    qsort(li, (size_t)n, sizeof *li, longer_first);
    int *order = rt_malloc((size_t)(n > 0 ? n : 1) * sizeof *order);
    for (int i = 0; i < n; i++) order[i] = li[i].idx;
    free(li);
    return order;
}

/* Runs sequences order[lo..hi) as one packed batch and pools each into out. */
static rt_status run_batch(rt_bert *m, const rt_tok_ids *seqs, const int *order, int lo, int hi, float *out) {
    int n = hi - lo, H = m->cfg.hidden;
    int *off = rt_malloc((size_t)(n + 1) * sizeof *off);
    off[0] = 0;
    for (int k = 0; k < n; k++) off[k + 1] = off[k] + (int)seqs[order[lo + k]].n;
    int32_t *ids = rt_malloc((size_t)off[n] * sizeof *ids);
    for (int k = 0; k < n; k++) memcpy(ids + off[k], seqs[order[lo + k]].ids, seqs[order[lo + k]].n * sizeof *ids);
    float *hidden = rt_alloc_floats((size_t)off[n] * H);
    rt_status s = rt_bert_forward(m, ids, off, n, hidden);
    if (s == RT_OK)
#pragma omp parallel for
        for (int k = 0; k < n; k++) pool(m, hidden + (size_t)off[k] * H, off[k + 1] - off[k], out + (size_t)order[lo + k] * H);
    rt_free_aligned(hidden);
    free(ids), free(off);
    return s;
}

/* Cuts the sorted sequences into groups order[bounds[g] .. bounds[g+1]) of about equal token counts,
 * none over RT_BERT_BATCH_TOKENS (unless one sequence is), and at least `threads` of them when there are
 * that many sequences. Returns the number of groups. */
static int make_groups(const rt_tok_ids *seqs, const int *order, int n, int threads, int *bounds) {
    long total = 0;
    for (int i = 0; i < n; i++) total += (long)seqs[i].n;
    long g = (total + RT_BERT_BATCH_TOKENS - 1) / RT_BERT_BATCH_TOKENS;
    if (g < threads) g = threads < n ? threads : n;
    long target = (total + g - 1) / g, acc = 0;
    int ng = 0;
    bounds[0] = 0;
    for (int i = 0; i < n; i++) {
        long len = (long)seqs[order[i]].n;
        if (i > bounds[ng] && (acc + len > RT_BERT_BATCH_TOKENS || acc >= target)) bounds[++ng] = i, acc = 0;
        acc += len;
    }
    bounds[++ng] = n;
    return ng;
}

/* With several groups and threads, each thread runs whole groups through every layer on its own
 * (single-threaded GEMMs inside the parallel loop): no barrier per kernel, which on a loaded machine
 * cost a quarter of the time in spinning threads. One group (a single text) runs on all threads. */
static rt_status run_groups(rt_bert *m, const rt_tok_ids *seqs, const int *order, const int *bounds, int ng, float *out) {
    if (ng == 1 || omp_get_max_threads() == 1) {
        for (int g = 0; g < ng; g++) RT_TRY(run_batch(m, seqs, order, bounds[g], bounds[g + 1], out));
        return RT_OK;
    }
    rt_status *st = rt_calloc((size_t)ng, sizeof *st);
#pragma omp parallel for schedule(dynamic, 1)
    for (int g = 0; g < ng; g++) st[g] = run_batch(m, seqs, order, bounds[g], bounds[g + 1], out);
    rt_status s = RT_OK;
    /* A failure's message lives in its worker thread: rerun that group here to report it. */
    for (int g = 0; g < ng && s == RT_OK; g++)
        if (st[g] != RT_OK) s = run_batch(m, seqs, order, bounds[g], bounds[g + 1], out);
    free(st);
    return s;
}

rt_status rt_bert_embed(rt_bert *m, const char *const *texts, int n, float *out) {
    if (n < 0) return rt_fail(RT_ERR_ARG, "bert: negative batch size");
    if (n == 0) return RT_OK;
    size_t *lens = rt_malloc((size_t)n * sizeof *lens);
    for (int i = 0; i < n; i++) lens[i] = strlen(texts[i]);
    rt_tok_ids *plain = rt_calloc((size_t)n, sizeof *plain), *seqs = rt_calloc((size_t)n, sizeof *seqs);
    rt_status s = rt_tokenizer_encode_batch(m->tok, texts, lens, (size_t)n, 0, 0, plain);
    for (int i = 0; s == RT_OK && i < n; i++) frame(m, &plain[i], &seqs[i]);
    int *order = order_by_length(seqs, n), *bounds = rt_malloc((size_t)(n + 1) * sizeof *bounds);
    if (s == RT_OK) s = run_groups(m, seqs, order, bounds, make_groups(seqs, order, n, omp_get_max_threads(), bounds), out);
    for (int i = 0; i < n; i++) rt_tok_ids_free(&plain[i]), rt_tok_ids_free(&seqs[i]);
    free(plain), free(seqs), free(lens), free(order), free(bounds);
    return s;
}
