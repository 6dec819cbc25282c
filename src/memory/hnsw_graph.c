/* hnsw_graph.c: HNSW insertion and search (Malkov and Yashunin, 2016): a greedy descent through the
 * sparse upper layers, then a beam search of width ef on layer 0. Neighbours are chosen with the
 * paper's heuristic (keep a candidate only if it is nearer to the base than to every kept one), which
 * keeps links spread over directions and is what gives high recall at small ef on clustered data. */
#include "memory/hnsw_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- heaps of (distance, id) ---- */

static void heap_reserve(rt_cand_heap *hp, size_t need) {
    if (need <= hp->cap) return;
    hp->cap = need < 64 ? 64 : need * 2;
    hp->v = rt_realloc(hp->v, hp->cap * sizeof *hp->v);
}

/* sign = +1: max-heap on d; sign = -1: min-heap on d. */
static void heap_push(rt_cand_heap *hp, float d, uint32_t id, float sign) {
    heap_reserve(hp, hp->n + 1);
    size_t i = hp->n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (sign * hp->v[parent].d >= sign * d) break;
        hp->v[i] = hp->v[parent];
        i = parent;
    }
    hp->v[i].d = d;
    hp->v[i].id = id;
}

static rt_hnsw_cand heap_pop(rt_cand_heap *hp, float sign) {
    rt_hnsw_cand top = hp->v[0], last = hp->v[--hp->n];
    size_t i = 0, n = hp->n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && sign * hp->v[c + 1].d > sign * hp->v[c].d) c++;
        if (sign * last.d >= sign * hp->v[c].d) break;
        hp->v[i] = hp->v[c];
        i = c;
    }
    if (n > 0) hp->v[i] = last;
    return top;
}

#define MAXH 1.0f
#define MINH -1.0f

static int cand_cmp(const void *a, const void *b) {
    const rt_hnsw_cand *x = a, *y = b;
    if (x->d < y->d) return -1;
    if (x->d > y->d) return 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

void rt_hnsw_cand_sort(rt_hnsw_cand *c, int n) { qsort(c, (size_t)n, sizeof *c, cand_cmp); }

int rt_hnsw_select(const rt_hnsw *h, const rt_hnsw_cand *cands, int n, int m, uint32_t *out) {
    int k = 0;
    for (int i = 0; i < n && k < m; i++) {
        const float *cv = rt_hnsw_vec(h, cands[i].id);
        int keep = 1;
        for (int j = 0; j < k; j++)
            if (rt_hnsw_dist(h, cv, rt_hnsw_vec(h, out[j])) < cands[i].d) {
                keep = 0;
                break;
            }
        if (keep) out[k++] = cands[i].id;
    }
    return k;
}

/* ---- search ---- */

/* Greedy walk on one upper layer: moves to any nearer neighbour until none is nearer. */
static uint32_t greedy(const rt_hnsw *h, const float *q, uint32_t cur, float *cur_d, int level) {
    for (int changed = 1; changed;) {
        changed = 0;
        const uint32_t *ln = rt_hnsw_links(h, cur, level);
        for (uint32_t i = 1; i <= ln[0]; i++) {
            float d = rt_hnsw_dist(h, q, rt_hnsw_vec(h, ln[i]));
            if (d < *cur_d) {
                *cur_d = d;
                cur = ln[i];
                changed = 1;
            }
        }
    }
    return cur;
}

/* Beam search on one layer from `ep`; leaves the best `ef` accepted nodes in s->results (a max-heap).
 * Without a filter it stops when the nearest unexpanded candidate is farther than the worst of ef
 * results; with one, that rule applies only once ef accepted results exist, so a selective filter
 * keeps the search going (through rejected nodes) instead of returning short. */
static void search_layer(const rt_hnsw *h, rt_hnsw_scratch *s, const float *q, uint32_t ep, float ep_d, int ef,
                         int level, rt_hnsw_filter_fn filter, void *ctx) {
    rt_hnsw_scratch_begin(s);
    s->visited[ep] = s->epoch;
    heap_push(&s->cands, ep_d, ep, MINH);
    if (!filter || filter(h->labels[ep], ctx)) heap_push(&s->results, ep_d, ep, MAXH);
    /* On layer 0 the seeds (nodes the graph leads to poorly) start the search too. */
    for (uint32_t i = 0; level == 0 && i < h->n_seeds; i++) {
        uint32_t sd = h->seeds[i];
        if (s->visited[sd] == s->epoch) continue;
        s->visited[sd] = s->epoch;
        float d = rt_hnsw_dist(h, q, rt_hnsw_vec(h, sd));
        heap_push(&s->cands, d, sd, MINH);
        if (!filter || filter(h->labels[sd], ctx)) {
            heap_push(&s->results, d, sd, MAXH);
            if (s->results.n > (size_t)ef) heap_pop(&s->results, MAXH);
        }
    }
    float bound = s->results.n >= (size_t)ef ? s->results.v[0].d : INFINITY;
    while (s->cands.n > 0) {
        rt_hnsw_cand c = s->cands.v[0];
        if (c.d > bound && s->results.n >= (size_t)ef) break;
        heap_pop(&s->cands, MINH);
        const uint32_t *ln = rt_hnsw_links(h, c.id, level);
        uint32_t n = ln[0];
        /* Prefetch one neighbour ahead: its visited mark and the start of its vector. */
        if (n > 0) {
            __builtin_prefetch(&s->visited[ln[1]]);
            __builtin_prefetch(rt_hnsw_vec(h, ln[1]));
        }
        for (uint32_t i = 1; i <= n; i++) {
            if (i < n) {
                __builtin_prefetch(&s->visited[ln[i + 1]]);
                __builtin_prefetch(rt_hnsw_vec(h, ln[i + 1]));
            }
            uint32_t nb = ln[i];
            if (s->visited[nb] == s->epoch) continue;
            s->visited[nb] = s->epoch;
            float d = rt_hnsw_dist(h, q, rt_hnsw_vec(h, nb));
            if (s->results.n < (size_t)ef || d < bound) {
                heap_push(&s->cands, d, nb, MINH);
                if (!filter || filter(h->labels[nb], ctx)) {
                    heap_push(&s->results, d, nb, MAXH);
                    if (s->results.n > (size_t)ef) heap_pop(&s->results, MAXH);
                    if (s->results.n >= (size_t)ef) bound = s->results.v[0].d;
                }
            }
        }
    }
}

/* Descends from the entry point to `target_level + 1` greedily; returns the node to start from. */
static uint32_t descend(const rt_hnsw *h, const float *q, int target_level, float *d) {
    uint32_t cur = h->entry;
    *d = rt_hnsw_dist(h, q, rt_hnsw_vec(h, cur));
    for (int l = h->max_level; l > target_level; l--) cur = greedy(h, q, cur, d, l);
    return cur;
}

/* Cosine stores and compares unit vectors, so the query is normalised into a scratch copy. */
static const float *prepare_query(const rt_hnsw *h, const float *q, float *buf) {
    if (h->p.metric != RT_METRIC_COSINE) return q;
    float n2 = rt_dot_scalar(q, q, h->p.dim);
    float inv = n2 > 0 ? 1.0f / sqrtf(n2) : 0.0f;
    for (int i = 0; i < h->p.dim; i++) buf[i] = q[i] * inv;
    return buf;
}

static void drain_sorted(rt_cand_heap *results, int k, rt_hnsw_cand *tmp, int *n_out) {
    while (results->n > (size_t)k) heap_pop(results, MAXH);
    int n = (int)results->n;
    for (int i = n - 1; i >= 0; i--) tmp[i] = heap_pop(results, MAXH);
    *n_out = n;
}

rt_status rt_hnsw_search(rt_hnsw *h, const float *query, int k, int ef, rt_hnsw_filter_fn filter, void *ctx,
                         rt_hnsw_hit *out, int *n_out) {
    *n_out = 0;
    if (k <= 0) return rt_fail(RT_ERR_ARG, "hnsw: k must be positive");
    if (ef <= 0) ef = h->p.ef_search;
    if (ef < k) ef = k;
    float *qbuf = rt_alloc_floats(h->stride);
    rt_hnsw_cand *tmp = rt_malloc((size_t)ef * sizeof *tmp);
    pthread_rwlock_rdlock(&h->lock);
    if (h->count > 0) {
        const float *q = prepare_query(h, query, qbuf);
        rt_hnsw_scratch *s = rt_hnsw_scratch_get(h);
        float d;
        uint32_t ep = descend(h, q, 0, &d);
        search_layer(h, s, q, ep, d, ef, 0, filter, ctx);
        int n;
        drain_sorted(&s->results, k, tmp, &n);
        for (int i = 0; i < n; i++) {
            out[i].label = h->labels[tmp[i].id];
            out[i].distance = tmp[i].d;
        }
        *n_out = n;
        rt_hnsw_scratch_put(h, s);
    }
    pthread_rwlock_unlock(&h->lock);
    free(tmp);
    rt_free_aligned(qbuf);
    return RT_OK;
}

rt_status rt_hnsw_search_exact(rt_hnsw *h, const float *query, int k, rt_hnsw_filter_fn filter, void *ctx,
                               rt_hnsw_hit *out, int *n_out) {
    *n_out = 0;
    if (k <= 0) return rt_fail(RT_ERR_ARG, "hnsw: k must be positive");
    float *qbuf = rt_alloc_floats(h->stride);
    rt_hnsw_cand *tmp = rt_malloc((size_t)k * sizeof *tmp);
    rt_cand_heap best = {0};
    pthread_rwlock_rdlock(&h->lock);
    const float *q = prepare_query(h, query, qbuf);
    for (uint32_t id = 0; id < h->n_slots; id++) {
        if (h->level[id] == RT_HNSW_FREE_SLOT) continue;
        if (filter && !filter(h->labels[id], ctx)) continue;
        float d = rt_hnsw_dist(h, q, rt_hnsw_vec(h, id));
        if (best.n < (size_t)k) heap_push(&best, d, id, MAXH);
        else if (d < best.v[0].d) {
            heap_pop(&best, MAXH);
            heap_push(&best, d, id, MAXH);
        }
    }
    int n;
    drain_sorted(&best, k, tmp, &n);
    for (int i = 0; i < n; i++) {
        out[i].label = h->labels[tmp[i].id];
        out[i].distance = tmp[i].d;
    }
    *n_out = n;
    pthread_rwlock_unlock(&h->lock);
    free(best.v);
    free(tmp);
    rt_free_aligned(qbuf);
    return RT_OK;
}

/* ---- insertion ---- */

static int draw_level(rt_hnsw *h) {
    double u = 1.0 - rt_rng_double(&h->rng); /* (0, 1] so the log is finite */
    int l = (int)(-log(u) * h->level_mult);
    return l > RT_HNSW_MAX_LEVEL ? RT_HNSW_MAX_LEVEL : l;
}

/* Writes a re-selected list; on layer 0 protected links the selection dropped come back first. */
static void store_links(rt_hnsw *h, uint32_t node, int level, uint32_t *kept, int k) {
    if (level == 0) {
        const uint32_t *ln = rt_hnsw_links(h, node, 0);
        rt_hnsw_keep_children(h, node, ln + 1, (int)ln[0], kept, &k);
        rt_hnsw_set_links0(h, node, kept, k);
        return;
    }
    uint32_t *ln = rt_hnsw_links(h, node, level);
    memcpy(ln + 1, kept, (size_t)k * sizeof *kept);
    ln[0] = (uint32_t)k;
}

/* Adds `id` to the links of `nb` on `level`; when full, re-selects among old links plus `id`. */
static void link_back(rt_hnsw *h, uint32_t nb, uint32_t id, int level) {
    uint32_t *ln = rt_hnsw_links(h, nb, level);
    int maxc = rt_hnsw_max_links(h, level);
    if ((int)ln[0] < maxc) {
        ln[1 + ln[0]] = id;
        ln[0]++;
        if (level == 0) h->in_degree[id]++;
        return;
    }
    rt_hnsw_cand cands[2 * RT_HNSW_MAX_M + 1];
    const float *base = rt_hnsw_vec(h, nb);
    int n = 0;
    for (uint32_t i = 1; i <= ln[0]; i++) cands[n++] = (rt_hnsw_cand){rt_hnsw_dist(h, base, rt_hnsw_vec(h, ln[i])), ln[i]};
    cands[n++] = (rt_hnsw_cand){rt_hnsw_dist(h, base, rt_hnsw_vec(h, id)), id};
    rt_hnsw_cand_sort(cands, n);
    uint32_t kept[2 * RT_HNSW_MAX_M];
    int k = rt_hnsw_select(h, cands, n, maxc, kept);
    store_links(h, nb, level, kept, k);
}

static void connect(rt_hnsw *h, uint32_t id, int level, rt_hnsw_cand *sorted, int n, uint32_t old_entry) {
    uint32_t kept[2 * RT_HNSW_MAX_M];
    int k = rt_hnsw_select(h, sorted, n, h->p.M, kept);
    store_links(h, id, level, kept, k);
    for (int i = 0; i < k; i++) link_back(h, kept[i], id, level);
    if (level == 0) rt_hnsw_tree_insert(h, id, kept, k, old_entry);
}

static rt_status insert_locked(rt_hnsw *h, int64_t label, const float *vec) {
    uint32_t existing;
    if (rt_hnsw_map_get(h, label, &existing)) return rt_fail(RT_ERR_ARG, "hnsw: label %lld already present", (long long)label);
    uint32_t id;
    if (h->n_free > 0) id = h->free_ids[--h->n_free];
    else {
        RT_TRY(rt_hnsw_grow(h, h->n_slots + 1));
        id = h->n_slots++;
    }
    float *v = rt_hnsw_vec(h, id);
    memcpy(v, vec, (size_t)h->p.dim * sizeof(float));
    if (h->p.metric == RT_METRIC_COSINE) {
        float n2 = rt_dot_scalar(v, v, h->p.dim);
        float inv = n2 > 0 ? 1.0f / sqrtf(n2) : 0.0f;
        for (int i = 0; i < h->p.dim; i++) v[i] *= inv;
    }
    int level = draw_level(h);
    h->level[id] = (uint8_t)level;
    h->labels[id] = label;
    rt_hnsw_links(h, id, 0)[0] = 0;
    rt_hnsw_alloc_upper(h, id, level);
    rt_hnsw_map_put(h, label, id);
    h->count++;
    if (h->max_level < 0) {
        h->entry = id;
        h->max_level = level;
        return RT_OK;
    }
    float d;
    uint32_t ep = descend(h, v, level, &d), old_entry = h->entry;
    int top = level < h->max_level ? level : h->max_level;
    /* A node above the top level is the new entry point, and the layer-0 tree's new root. */
    if (level > h->max_level) h->entry = id, h->max_level = level;
    rt_hnsw_scratch *s = rt_hnsw_scratch_get(h);
    rt_hnsw_cand *sorted = rt_malloc((size_t)h->p.ef_construction * sizeof *sorted);
    for (int l = top; l >= 0; l--) {
        search_layer(h, s, v, ep, d, h->p.ef_construction, l, NULL, NULL);
        int n;
        drain_sorted(&s->results, h->p.ef_construction, sorted, &n);
        if (l == 0 && n > 0) rt_hnsw_seed_consider(h, id, sorted[0].d);
        connect(h, id, l, sorted, n, old_entry);
        ep = sorted[0].id;
        d = sorted[0].d;
    }
    free(sorted);
    rt_hnsw_scratch_put(h, s);
    return RT_OK;
}

rt_status rt_hnsw_insert(rt_hnsw *h, int64_t label, const float *vec) {
    pthread_rwlock_wrlock(&h->lock);
    rt_status s = insert_locked(h, label, vec);
    pthread_rwlock_unlock(&h->lock);
    return s;
}
