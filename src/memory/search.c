/* search.c: retrieval. The state text is embedded; the `candidates` most similar episodes that pass
 * the filters come from the index (or, when the filters leave few episodes, from an exact scan of just
 * those); they are re-ranked by score = (1 - w) * similarity + w * reward and the best k returned with
 * their parts. Negatives are the most similar failed episodes under the same filters, never the
 * excluded (query's own) episode and never one already among the hits. */
#include "memory/memory_internal.h"

#include <stdlib.h>
#include <string.h>

/* Below this many passing episodes an exact scan of them is cheaper than a filtered graph search. */
#define EXACT_POOL_MAX 2048
#define MIN_CANDIDATES 32

rt_memory_query rt_memory_query_default(void) {
    rt_memory_query q = {.k = 5, .weight = 0.0};
    return q;
}

typedef struct {
    int64_t *allow; /* the passing seqs, in no order; NULL = everything */
    size_t n_allow;
    uint64_t *bits; /* the same as a bitmap over seqs, for O(1) tests during the graph search */
    int64_t n_bits;
    int64_t deny[1]; /* the query's own episode */
    int n_deny;
} filter_ctx;

static int accept(int64_t label, void *ctx) {
    const filter_ctx *f = ctx;
    for (int i = 0; i < f->n_deny; i++)
        if (f->deny[i] == label) return 0;
    return !f->allow || (label >= 0 && label < f->n_bits && (f->bits[label >> 6] >> (label & 63) & 1));
}

static int has_filter(const rt_memory_query *q, const char *outcome) {
    return q->env || outcome || q->task_type || q->split || q->tool;
}

/* Collects the seqs passing the filters (with `outcome` in place of the query's). */
static rt_status load_allow_locked(rt_memory *m, const rt_memory_query *q, const char *outcome, filter_ctx *f) {
    char sql[1024] = "SELECT seq FROM episodes WHERE 1";
    const char *args[8];
    int n = 0;
    struct {
        const char *value, *clause;
    } cols[] = {{q->env, " AND env=?"}, {outcome, " AND outcome=?"}, {q->task_type, " AND task_type=?"}, {q->split, " AND split=?"}};
    for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++)
        if (cols[i].value) {
            strcat(sql, cols[i].clause);
            args[n++] = cols[i].value;
        }
    if (q->tool) {
        strcat(sql, q->tool_version ? " AND seq IN (SELECT episode FROM episode_tools WHERE tool=? AND version=?)"
                                    : " AND seq IN (SELECT episode FROM episode_tools WHERE tool=?)");
        args[n++] = q->tool;
        if (q->tool_version) args[n++] = q->tool_version;
    }
    /* No ORDER BY: it would make SQLite walk an index in seq order and look every row up in the table
     * instead of reading the covering filter index. */
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(m->rdb, sql, -1, &st, NULL) != SQLITE_OK) return rt_sql_fail(m->rdb, "filtering episodes");
    for (int i = 0; i < n; i++) sqlite3_bind_text(st, i + 1, args[i], -1, SQLITE_STATIC);
    size_t cap = 256;
    f->allow = rt_malloc(cap * sizeof *f->allow);
    f->n_allow = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (f->n_allow == cap) f->allow = rt_realloc(f->allow, (cap *= 2) * sizeof *f->allow);
        f->allow[f->n_allow++] = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    int64_t max = 0;
    for (size_t i = 0; i < f->n_allow; i++) max = f->allow[i] > max ? f->allow[i] : max;
    f->n_bits = max + 1;
    f->bits = rt_calloc((size_t)(f->n_bits + 63) / 64, sizeof *f->bits);
    for (size_t i = 0; i < f->n_allow; i++) f->bits[f->allow[i] >> 6] |= 1ull << (f->allow[i] & 63);
    return rc == SQLITE_DONE ? RT_OK : rt_sql_fail(m->rdb, "filtering episodes");
}

void rt_filter_cache_clear(rt_memory *m) {
    for (int i = 0; i < RT_FILTER_CACHE_SLOTS; i++) {
        rt_filter_cache *c = &m->filters[i];
        free(c->key), free(c->allow), free(c->bits);
        memset(c, 0, sizeof *c);
    }
}

/* The cache key: every filter value (or a mark for none), NUL-separated. */
static char *filter_key(const rt_memory_query *q, const char *outcome, size_t *len) {
    const char *v[] = {q->env, outcome, q->task_type, q->split, q->tool, q->tool_version};
    rt_strbuf b = {0};
    rt_strbuf_add(&b, "");
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        rt_strbuf_add(&b, v[i] ? "=" : "-"); /* "-" alone: no filter; "=" then the value */
        if (v[i]) rt_strbuf_add(&b, v[i]);
        rt_strbuf_add(&b, "\x1f");
    }
    *len = b.len;
    return b.buf;
}

static void copy_filter(filter_ctx *f, const rt_filter_cache *c) {
    f->n_allow = c->n_allow, f->n_bits = c->n_bits;
    f->allow = rt_malloc((c->n_allow ? c->n_allow : 1) * sizeof *f->allow);
    memcpy(f->allow, c->allow, c->n_allow * sizeof *f->allow);
    size_t words = (size_t)(c->n_bits + 63) / 64;
    f->bits = rt_malloc((words ? words : 1) * sizeof *f->bits);
    memcpy(f->bits, c->bits, words * sizeof *f->bits);
}

/* The allow list for the filter, from the cache when the store has not changed since it was read. The
 * caller owns (and may change) what it gets. */
static rt_status load_allow(rt_memory *m, const rt_memory_query *q, const char *outcome, filter_ctx *f) {
    size_t klen;
    char *key = filter_key(q, outcome, &klen);
    pthread_mutex_lock(&m->rlock);
    /* The store's own state, read on the search connection (m->state belongs to the index and is
     * updated by a syncing writer without the read lock). */
    rt_index_state now;
    rt_status s = rt_store_state(m->rdb, &now);
    if (s != RT_OK) {
        pthread_mutex_unlock(&m->rlock);
        free(key);
        return s;
    }
    rt_filter_cache *hit = NULL, *victim = &m->filters[0];
    for (int i = 0; i < RT_FILTER_CACHE_SLOTS; i++) {
        rt_filter_cache *c = &m->filters[i];
        if (c->key && !strcmp(c->key, key) && c->state.generation == now.generation && c->state.max_seq == now.max_seq &&
            c->state.deletions == now.deletions)
            hit = c;
        if (!c->key || (victim->key && c->used < victim->used)) victim = c;
    }
    if (hit) {
        copy_filter(f, hit);
        hit->used = ++m->filter_clock;
        free(key);
    } else if ((s = load_allow_locked(m, q, outcome, f)) == RT_OK) {
        free(victim->key), free(victim->allow), free(victim->bits);
        *victim = (rt_filter_cache){.key = key, .state = now, .n_allow = f->n_allow, .n_bits = f->n_bits,
                                    .used = ++m->filter_clock};
        filter_ctx keep = {0};
        rt_filter_cache tmp = {.allow = f->allow, .n_allow = f->n_allow, .bits = f->bits, .n_bits = f->n_bits};
        copy_filter(&keep, &tmp);
        victim->allow = keep.allow, victim->bits = keep.bits;
    } else {
        free(key);
    }
    pthread_mutex_unlock(&m->rlock);
    return s;
}

static rt_status exclude_seq(rt_memory *m, const char *id, filter_ctx *f) {
    sqlite3_stmt *st;
    pthread_mutex_lock(&m->rlock);
    rt_status s = RT_OK;
    if (sqlite3_prepare_v2(m->rdb, "SELECT seq FROM episodes WHERE id=?", -1, &st, NULL) != SQLITE_OK) s = rt_sql_fail(m->rdb, "looking up an id");
    else {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) f->deny[f->n_deny++] = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&m->rlock);
    return s;
}

/* Nearest `n` under the filter: exact over a small allow list, else the graph. */
static rt_status nearest(rt_memory *m, const rt_memory_query *q, const float *vec, filter_ctx *f, int n, rt_hnsw_hit *out, int *n_out) {
    if (q->exact || (f->allow && f->n_allow <= EXACT_POOL_MAX)) {
        if (!f->allow) return rt_hnsw_search_exact(m->index, vec, n, accept, f, out, n_out);
        /* Distances of just the passing vectors, kept in a bounded sorted list. */
        float *v = rt_malloc((size_t)m->dim * sizeof *v);
        int have = 0;
        for (size_t i = 0; i < f->n_allow; i++) {
            if (!accept(f->allow[i], f) || rt_hnsw_get_vector(m->index, f->allow[i], v) != RT_OK) continue;
            float d = 1.0f - rt_dot(vec, v, m->dim);
            if (have == n && d >= out[n - 1].distance) continue;
            int j = have < n ? have++ : n - 1;
            while (j > 0 && out[j - 1].distance > d) out[j] = out[j - 1], j--;
            out[j] = (rt_hnsw_hit){f->allow[i], d};
        }
        free(v);
        *n_out = have;
        return RT_OK;
    }
    int ef = q->ef > 0 ? q->ef : m->ef_search;
    return rt_hnsw_search(m->index, vec, n, ef < n ? n : ef, f->allow || f->n_deny ? accept : NULL, f, out, n_out);
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
static rt_status collect(rt_memory *m, const rt_memory_query *q, const float *vec, filter_ctx *f, int want, double w,
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
    filter_ctx f = {0};
    rt_status s = RT_OK;
    if (q->exclude_id) s = exclude_seq(m, q->exclude_id, &f);
    if (s == RT_OK && has_filter(q, q->outcome)) s = load_allow(m, q, q->outcome, &f);
    out->filtered_pool = f.allow ? (int64_t)f.n_allow : -1;
    int want = q->candidates > 0 ? q->candidates : (4 * q->k > MIN_CANDIDATES ? 4 * q->k : MIN_CANDIDATES);
    if (want < q->k) want = q->k;
    if (s == RT_OK) s = collect(m, q, vec, &f, want, q->weight, &out->hits, &out->n_hits);
    if (out->n_hits > q->k) {
        for (int i = q->k; i < out->n_hits; i++) hit_free(&out->hits[i]);
        out->n_hits = q->k;
    }
    free(f.allow);
    free(f.bits);
    f.allow = NULL;
    f.bits = NULL;
    if (s == RT_OK && q->negatives > 0) {
        filter_ctx g = f;
        s = load_allow(m, q, "failure", &g);
        /* The hits are taken out of the failures' bitmap, so none comes back as a negative. */
        for (int i = 0; s == RT_OK && i < out->n_hits; i++) {
            int64_t seq = out->hits[i].rowid;
            if (seq < g.n_bits) g.bits[seq >> 6] &= ~(1ull << (seq & 63));
        }
        /* Negatives are ranked by similarity alone: the point is the nearest ways to fail. */
        if (s == RT_OK) s = collect(m, q, vec, &g, q->negatives, 0.0, &out->negatives, &out->n_negatives);
        free(g.allow);
        free(g.bits);
    }
    return s;
}

rt_status rt_memory_search(rt_memory *m, const char *state_text, const rt_memory_query *q, rt_memory_results *out) {
    memset(out, 0, sizeof *out);
    if (q->k < 1) return rt_fail(RT_ERR_ARG, "search: k must be at least 1");
    if (q->k > 10000 || q->negatives > 10000 || q->negatives < 0) return rt_fail(RT_ERR_ARG, "search: k or negatives out of range");
    if (!(q->weight >= 0.0 && q->weight <= 1.0)) return rt_fail(RT_ERR_ARG, "search: weight %g is outside 0..1", q->weight);
    if (q->tool_version && !q->tool) return rt_fail(RT_ERR_ARG, "search: a tool version filter needs a tool");
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
