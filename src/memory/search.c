/* search.c: retrieval. The state text is embedded; the `candidates` most similar episodes that pass
 * the filters (filter.c: successes unless asked otherwise, and the query's exclusions and tool
 * versions) come from the index, or from an exact scan when the filters leave few episodes or the
 * memory is small; they are re-ranked by score = (1 - w) * similarity + w * reward and the best k
 * returned with their parts. Negatives are the most similar failed episodes under the same filters,
 * never an excluded episode and never one already among the hits. */
#include "memory/memory_internal.h"

#include <stdlib.h>
#include <string.h>

/* When to scan instead of walking the graph, measured by bench/exact_scan.c (docs/BENCHMARKS.md; one
 * thread, CPU time, dimension 384, 32 candidates at ef 64, two runs on the loaded 2-core AMD EPYC VM):
 * - no filter: the scan of every vector cost 0.86-0.94x the walk at 2,048 vectors and 1.20-1.42x at
 *   4,096 (the seeds alone cost the walk up to 64 distances);
 * - under a filter, among 16,384 vectors: scanning (testing the bitmap on each, measuring those that
 *   pass) cost 0.61-0.93x the filtered walk when 4,096 pass and 2.7-4.7x when 8,192 pass; a filtered
 *   walk expands rejected nodes too, so the fewer pass the more the scan wins (0.10x at 2,048). */
#define EXACT_INDEX_MAX 2048
#define EXACT_POOL_MAX 4096
#define MIN_CANDIDATES 32

rt_memory_query rt_memory_query_default(void) {
    rt_memory_query q = {.k = 5, .weight = RT_MEMORY_REWARD_WEIGHT};
    return q;
}

/* Nearest `n` under the filter: exact over a small allow list or a small index, else the graph. */
static rt_status nearest(rt_memory *m, const rt_memory_query *q, const float *vec, rt_filter *f, int n, rt_hnsw_hit *out, int *n_out) {
    int small = f->allow ? f->n_pass <= EXACT_POOL_MAX : rt_hnsw_count(m->index) <= EXACT_INDEX_MAX;
    if (q->exact > 0 || (q->exact == 0 && small))
        return rt_hnsw_search_exact(m->index, vec, n, f->allow || f->n_deny ? rt_filter_accept : NULL, f, out, n_out);
    int ef = q->ef > 0 ? q->ef : m->ef_search;
    return rt_hnsw_search(m->index, vec, n, ef < n ? n : ef, f->allow || f->n_deny ? rt_filter_accept : NULL, f, out, n_out);
}

/* Fills a hit from its row; returns 0 when the episode has gone (deleted since the index saw it). */
static int fetch_hit(rt_memory *m, int64_t seq, double sim, double w, rt_memory_hit *h) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(m->rdb, "SELECT id, env, task, task_type, outcome, reward, json FROM episodes JOIN episode_data USING(seq) WHERE seq=?", -1, &st, NULL) != SQLITE_OK)
        return 0;
    sqlite3_bind_int64(st, 1, seq);
    int ok = sqlite3_step(st) == SQLITE_ROW;
    if (ok) {
        const char *c[7];
        for (int i = 0; i < 7; i++) c[i] = (const char *)sqlite3_column_text(st, i);
        h->rowid = seq;
        h->id = rt_strdup(c[0]), h->env = rt_strdup(c[1]), h->task = rt_strdup(c[2]);
        h->task_type = c[3] ? rt_strdup(c[3]) : NULL;
        h->outcome = rt_strdup(c[4]);
        h->reward = sqlite3_column_double(st, 5);
        h->json = rt_strdup(c[6]);
        h->similarity = sim;
        h->score = (1.0 - w) * sim + w * h->reward;
    }
    sqlite3_finalize(st);
    return ok;
}

static void hit_free(rt_memory_hit *h) {
    free(h->id), free(h->env), free(h->task), free(h->task_type), free(h->outcome), free(h->json);
}

static int by_score(const void *a, const void *b) {
    const rt_memory_hit *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return x->rowid < y->rowid ? -1 : x->rowid > y->rowid;
}

/* Nearest `want` passing episodes as hits (sorted by score), dropping ones deleted meanwhile. */
static rt_status collect(rt_memory *m, const rt_memory_query *q, const float *vec, rt_filter *f, int want, double w,
                         rt_memory_hit **out, int *n_out) {
    rt_hnsw_hit *nn = rt_malloc((size_t)want * sizeof *nn);
    int n = 0;
    rt_status s = nearest(m, q, vec, f, want, nn, &n);
    rt_memory_hit *hits = rt_calloc((size_t)n + 1, sizeof *hits);
    int kept = 0;
    pthread_mutex_lock(&m->rlock);
    for (int i = 0; s == RT_OK && i < n; i++)
        if (fetch_hit(m, nn[i].label, 1.0 - nn[i].distance, w, &hits[kept])) kept++;
    pthread_mutex_unlock(&m->rlock);
    free(nn);
    qsort(hits, (size_t)kept, sizeof *hits, by_score);
    *out = hits;
    *n_out = kept;
    return s;
}

static rt_status search_locked(rt_memory *m, const float *vec, const rt_memory_query *q, rt_memory_results *out) {
    /* Hits are successes unless the query names an outcome or asks for all of them. */
    const char *outcome = q->outcome ? q->outcome : q->all_outcomes ? NULL : "success";
    rt_filter f;
    rt_status s = rt_filter_load(m, q, outcome, 1, &f);
    if (s != RT_OK) return s;
    out->filtered_pool = f.allow ? f.n_pass : -1;
    int want = q->candidates > 0 ? q->candidates : (4 * q->k > MIN_CANDIDATES ? 4 * q->k : MIN_CANDIDATES);
    if (want < q->k) want = q->k;
    s = collect(m, q, vec, &f, want, q->weight, &out->hits, &out->n_hits);
    if (out->n_hits > q->k) {
        for (int i = q->k; i < out->n_hits; i++) hit_free(&out->hits[i]);
        out->n_hits = q->k;
    }
    rt_filter_free(&f);
    if (s == RT_OK && q->negatives > 0) {
        rt_filter g;
        s = rt_filter_load(m, q, "failure", 0, &g);
        /* With all outcomes the hits may be failures: none comes back as a negative too. */
        for (int i = 0; s == RT_OK && i < out->n_hits; i++) rt_filter_drop(&g, out->hits[i].rowid);
        /* Negatives are ranked by similarity alone: the point is the nearest ways to fail. */
        if (s == RT_OK) s = collect(m, q, vec, &g, q->negatives, 0.0, &out->negatives, &out->n_negatives);
        rt_filter_free(&g);
    }
    return s;
}

rt_status rt_memory_search(rt_memory *m, const char *state_text, const rt_memory_query *q, rt_memory_results *out) {
    memset(out, 0, sizeof *out);
    if (q->k < 1) return rt_fail(RT_ERR_ARG, "search: k must be at least 1");
    if (q->k > 10000 || q->negatives > 10000 || q->negatives < 0) return rt_fail(RT_ERR_ARG, "search: k or negatives out of range");
    if (!(q->weight >= 0.0 && q->weight <= 1.0)) return rt_fail(RT_ERR_ARG, "search: weight %g is outside 0..1", q->weight);
    if (q->tool_version && !q->tool) return rt_fail(RT_ERR_ARG, "search: a tool version filter needs a tool");
    if (q->n_pins < 0 || q->n_pins > RT_MEMORY_MAX_PINS || (q->n_pins > 0 && (!q->pin_tools || !q->pin_versions)))
        return rt_fail(RT_ERR_ARG, "search: %d pinned tool versions (0..%d, with tools and versions)", q->n_pins, RT_MEMORY_MAX_PINS);
    for (int i = 0; i < q->n_pins; i++)
        if (!q->pin_tools[i] || !q->pin_versions[i]) return rt_fail(RT_ERR_ARG, "search: pinned tool %d has no name or version", i);
    if (q->outcome && strcmp(q->outcome, "success") != 0 && strcmp(q->outcome, "failure") != 0)
        return rt_fail(RT_ERR_ARG, "search: outcome filter must be success or failure, not '%s'", q->outcome);
    out->weight = q->weight;
    float *vec = rt_malloc((size_t)m->dim * sizeof *vec);
    rt_status s = rt_embedder_embed(m->emb, &state_text, 1, vec);
    if (s == RT_OK) {
        /* The index cannot be swapped (rebuilt) under a search; SQLite reads lock rlock themselves,
         * so graph searches of many threads run in parallel. */
        pthread_rwlock_rdlock(&m->swap_lock);
        s = search_locked(m, vec, q, out);
        pthread_rwlock_unlock(&m->swap_lock);
    }
    free(vec);
    if (s != RT_OK) rt_memory_results_free(out);
    return s;
}

void rt_memory_results_free(rt_memory_results *r) {
    for (int i = 0; i < r->n_hits; i++) hit_free(&r->hits[i]);
    for (int i = 0; i < r->n_negatives; i++) hit_free(&r->negatives[i]);
    free(r->hits);
    free(r->negatives);
    memset(r, 0, sizeof *r);
}
