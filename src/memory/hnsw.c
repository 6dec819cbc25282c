/* hnsw.c: the HNSW object: parameters, storage growth, the label map and the scratch pool.
 * The graph algorithms are in hnsw_graph.c, deletion in hnsw_delete.c, files in hnsw_io.c. */
#include "memory/hnsw_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "memory/hash.h"

#define INITIAL_SLOTS 1024u
#define INITIAL_MAP_SLOTS 2048u

const char *rt_metric_name(rt_metric m) {
    switch (m) {
    case RT_METRIC_COSINE: return "cosine";
    case RT_METRIC_IP: return "ip";
    case RT_METRIC_L2: return "l2";
    }
    return "unknown";
}

rt_status rt_metric_parse(const char *name, rt_metric *out) {
    if (strcmp(name, "cosine") == 0) *out = RT_METRIC_COSINE;
    else if (strcmp(name, "ip") == 0) *out = RT_METRIC_IP;
    else if (strcmp(name, "l2") == 0) *out = RT_METRIC_L2;
    else return rt_fail(RT_ERR_ARG, "unknown metric '%s' (cosine, ip or l2)", name);
    return RT_OK;
}

rt_hnsw_params rt_hnsw_params_default(int dim) {
    rt_hnsw_params p = {.dim = dim, .metric = RT_METRIC_COSINE, .M = 16, .ef_construction = 200,
                        .ef_search = 64, .seed = 100};
    return p;
}

static rt_status check_params(const rt_hnsw_params *p) {
    if (p->dim < 1 || p->dim > RT_HNSW_MAX_DIM) return rt_fail(RT_ERR_ARG, "hnsw: dimension %d out of range", p->dim);
    if (p->M < 2 || p->M > RT_HNSW_MAX_M) return rt_fail(RT_ERR_ARG, "hnsw: M %d out of range 2..%d", p->M, RT_HNSW_MAX_M);
    if (p->ef_construction < 1) return rt_fail(RT_ERR_ARG, "hnsw: ef_construction must be positive");
    if ((unsigned)p->metric > RT_METRIC_L2) return rt_fail(RT_ERR_ARG, "hnsw: unknown metric %d", (int)p->metric);
    return RT_OK;
}

rt_status rt_hnsw_create(const rt_hnsw_params *p, rt_hnsw **out) {
    RT_TRY(check_params(p));
    rt_hnsw *h = rt_calloc(1, sizeof *h);
    h->p = *p;
    if (h->p.ef_search < 1) h->p.ef_search = 1;
    h->M0 = 2 * p->M;
    h->min_in_links = p->M / RT_HNSW_MIN_IN_LINKS_DIV;
    h->stride = ((size_t)p->dim + RT_HNSW_STRIDE_FLOATS - 1) / RT_HNSW_STRIDE_FLOATS * RT_HNSW_STRIDE_FLOATS;
    h->vec_bytes = h->stride * sizeof(float);
    size_t links_bytes = (size_t)(1 + h->M0) * sizeof(uint32_t);
    h->node_bytes = h->vec_bytes + (links_bytes + 63) / 64 * 64;
    h->dot = rt_dot_kernel();
    h->l2 = rt_l2sq_kernel();
    h->max_level = -1;
    h->deleting = RT_HNSW_NO_PARENT;
    h->level_mult = 1.0 / log((double)p->M);
    rt_rng_seed(&h->rng, p->seed);
    rt_rwlock_init_writer_first(&h->lock);
    pthread_mutex_init(&h->pool_lock, NULL);
    h->map_cap = INITIAL_MAP_SLOTS;
    h->map_keys = rt_calloc(h->map_cap, sizeof *h->map_keys);
    h->map_vals = rt_calloc(h->map_cap, sizeof *h->map_vals);
    h->map_state = rt_calloc(h->map_cap, 1);
    rt_status s = rt_hnsw_grow(h, INITIAL_SLOTS);
    if (s != RT_OK) {
        rt_hnsw_free(h);
        return s;
    }
    *out = h;
    return RT_OK;
}

void rt_hnsw_free(rt_hnsw *h) {
    if (!h) return;
    for (uint32_t i = 0; i < h->n_slots; i++) free(h->upper ? h->upper[i] : NULL);
    free(h->upper);
    rt_hnsw_big_free(h->nodes);
    free(h->level);
    free(h->labels);
    free(h->free_ids);
    free(h->parent);
    free(h->n_children);
    free(h->in_degree);
    free(h->seeds);
    free(h->is_seed);
    free(h->seed_d);
    free(h->map_keys);
    free(h->map_vals);
    free(h->map_state);
    while (h->pool) {
        rt_hnsw_scratch *s = h->pool;
        h->pool = s->next;
        rt_hnsw_big_free(s->visited);
        free(s->cands.v);
        free(s->results.v);
        free(s);
    }
    pthread_rwlock_destroy(&h->lock);
    pthread_mutex_destroy(&h->pool_lock);
    free(h);
}

/* ---- arrays read at random by the search ---- */

#define HUGE_PAGE_BYTES ((size_t)2 << 20)

/* A search touches a few hundred node blocks scattered over the whole node array; at a million
 * vectors (1.7 GB) nearly every one misses the TLB with 4 KiB pages, and the page walk adds to the
 * cache miss. Linux often gives transparent huge pages only to memory that asks (the "madvise" mode),
 * so arrays of 2 MiB or more are 2 MiB-aligned and advised before their first touch, and the zeroing
 * below faults them in as huge pages (at 300k vectors this took search from 1.15x to about 1.45x
 * hnswlib's QPS; see docs/BENCHMARKS.md). Elsewhere, or when the kernel declines, it is ordinary
 * memory. Zeroed; free with rt_hnsw_big_free. */
void *rt_hnsw_big_alloc(size_t bytes) {
    if (bytes < HUGE_PAGE_BYTES) {
        void *p = rt_alloc_floats((bytes + sizeof(float) - 1) / sizeof(float));
        memset(p, 0, bytes);
        return p;
    }
    size_t rounded = (bytes + HUGE_PAGE_BYTES - 1) / HUGE_PAGE_BYTES * HUGE_PAGE_BYTES;
    void *p = NULL;
    if (posix_memalign(&p, HUGE_PAGE_BYTES, rounded) != 0) p = rt_alloc_floats(rounded / sizeof(float));
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    (void)madvise(p, rounded, MADV_HUGEPAGE); /* advice only: failure leaves normal pages */
#endif
    memset(p, 0, rounded);
    return p;
}

void rt_hnsw_big_free(void *p) { free(p); }

/* Reallocates every per-slot array to `cap` slots (cap > h->cap), keeping contents. */
static void resize(rt_hnsw *h, uint32_t cap) {
    /* A fresh array rather than realloc: realloc of a large block may mremap the old (small-page)
     * pages into place, which would lose the huge-page advice. */
    uint8_t *nodes = rt_hnsw_big_alloc((size_t)cap * h->node_bytes);
    if (h->nodes) memcpy(nodes, h->nodes, (size_t)h->n_slots * h->node_bytes);
    rt_hnsw_big_free(h->nodes);
    h->nodes = nodes;
    h->upper = rt_realloc(h->upper, (size_t)cap * sizeof *h->upper);
    memset(h->upper + h->cap, 0, (size_t)(cap - h->cap) * sizeof *h->upper);
    h->level = rt_realloc(h->level, cap);
    memset(h->level + h->cap, RT_HNSW_FREE_SLOT, cap - h->cap);
    h->labels = rt_realloc(h->labels, (size_t)cap * sizeof *h->labels);
    h->free_ids = rt_realloc(h->free_ids, (size_t)cap * sizeof *h->free_ids);
    h->parent = rt_realloc(h->parent, (size_t)cap * sizeof *h->parent);
    memset(h->parent + h->cap, 0xFF, (size_t)(cap - h->cap) * sizeof *h->parent); /* RT_HNSW_NO_PARENT */
    h->n_children = rt_realloc(h->n_children, (size_t)cap * sizeof *h->n_children);
    memset(h->n_children + h->cap, 0, (size_t)(cap - h->cap) * sizeof *h->n_children);
    h->is_seed = rt_realloc(h->is_seed, cap);
    memset(h->is_seed + h->cap, 0, cap - h->cap);
    h->in_degree = rt_realloc(h->in_degree, (size_t)cap * sizeof *h->in_degree);
    memset(h->in_degree + h->cap, 0, (size_t)(cap - h->cap) * sizeof *h->in_degree);
    h->cap = cap;
}

rt_status rt_hnsw_grow(rt_hnsw *h, uint32_t need) {
    if (need <= h->cap) return RT_OK;
    uint32_t cap = h->cap ? h->cap : INITIAL_SLOTS;
    while (cap < need) {
        if (cap > UINT32_MAX / 2) return rt_fail(RT_ERR_NOMEM, "hnsw: more than 2^31 vectors");
        cap *= 2;
    }
    resize(h, cap);
    return RT_OK;
}

rt_status rt_hnsw_reserve(rt_hnsw *h, int64_t n) {
    if (n < 0 || n > (int64_t)UINT32_MAX / 2) return rt_fail(RT_ERR_ARG, "hnsw: cannot reserve %lld vectors", (long long)n);
    pthread_rwlock_wrlock(&h->lock);
    /* Exactly n, not the next power of two: the caller knows the size. */
    if ((uint32_t)n > h->cap) resize(h, (uint32_t)n);
    pthread_rwlock_unlock(&h->lock);
    return RT_OK;
}

rt_status rt_hnsw_alloc_upper(rt_hnsw *h, uint32_t id, int level) {
    free(h->upper[id]);
    h->upper[id] = NULL;
    if (level > 0) h->upper[id] = rt_calloc((size_t)level * (size_t)(1 + h->p.M), sizeof(uint32_t));
    return RT_OK;
}

/* ---- label map ---- */

static size_t map_slot(const rt_hnsw *h, int64_t label) {
    return (size_t)rt_mix64((uint64_t)label) & (h->map_cap - 1);
}

int rt_hnsw_map_get(const rt_hnsw *h, int64_t label, uint32_t *id) {
    for (size_t i = map_slot(h, label);; i = (i + 1) & (h->map_cap - 1)) {
        if (h->map_state[i] == 0) return 0;
        if (h->map_state[i] == 1 && h->map_keys[i] == label) {
            *id = h->map_vals[i];
            return 1;
        }
    }
}

static void map_grow(rt_hnsw *h) {
    size_t old_cap = h->map_cap;
    int64_t *keys = h->map_keys;
    uint32_t *vals = h->map_vals;
    uint8_t *state = h->map_state;
    /* Rehashing drops the deleted markers and sizes the table for the live labels alone (at most a
     * quarter full), so churn without growth never grows it. */
    size_t live = 0;
    for (size_t i = 0; i < old_cap; i++) live += state[i] == 1;
    h->map_cap = INITIAL_MAP_SLOTS;
    while ((live + 1) * 4 > h->map_cap) h->map_cap *= 2;
    h->map_keys = rt_calloc(h->map_cap, sizeof *keys);
    h->map_vals = rt_calloc(h->map_cap, sizeof *vals);
    h->map_state = rt_calloc(h->map_cap, 1);
    h->map_used = 0;
    for (size_t i = 0; i < old_cap; i++)
        if (state[i] == 1) rt_hnsw_map_put(h, keys[i], vals[i]);
    free(keys);
    free(vals);
    free(state);
}

void rt_hnsw_map_put(rt_hnsw *h, int64_t label, uint32_t id) {
    if ((h->map_used + 1) * 2 > h->map_cap) map_grow(h);
    size_t i = map_slot(h, label);
    while (h->map_state[i] == 1) i = (i + 1) & (h->map_cap - 1);
    if (h->map_state[i] == 0) h->map_used++;
    h->map_state[i] = 1;
    h->map_keys[i] = label;
    h->map_vals[i] = id;
}

void rt_hnsw_map_remove(rt_hnsw *h, int64_t label) {
    for (size_t i = map_slot(h, label);; i = (i + 1) & (h->map_cap - 1)) {
        if (h->map_state[i] == 0) return;
        if (h->map_state[i] == 1 && h->map_keys[i] == label) {
            h->map_state[i] = 2;
            return;
        }
    }
}

/* ---- scratch pool ---- */

rt_hnsw_scratch *rt_hnsw_scratch_get(rt_hnsw *h) {
    pthread_mutex_lock(&h->pool_lock);
    rt_hnsw_scratch *s = h->pool;
    if (s) h->pool = s->next;
    pthread_mutex_unlock(&h->pool_lock);
    if (!s) s = rt_calloc(1, sizeof *s);
    /* The slot count only changes under the writer lock, so reading it here is race-free. */
    if (s->visited_cap < h->cap) {
        rt_hnsw_big_free(s->visited);
        s->visited = rt_hnsw_big_alloc((size_t)h->cap * sizeof *s->visited);
        s->visited_cap = h->cap;
        s->epoch = 0;
    }
    return s;
}

void rt_hnsw_scratch_put(rt_hnsw *h, rt_hnsw_scratch *s) {
    pthread_mutex_lock(&h->pool_lock);
    s->next = h->pool;
    h->pool = s;
    pthread_mutex_unlock(&h->pool_lock);
}

void rt_hnsw_scratch_begin(rt_hnsw_scratch *s) {
    if (++s->epoch == 0) {
        memset(s->visited, 0, (size_t)s->visited_cap * sizeof *s->visited);
        s->epoch = 1;
    }
    s->cands.n = 0;
    s->results.n = 0;
}

/* ---- small accessors ---- */

int64_t rt_hnsw_count(const rt_hnsw *h) { return h->count; }
const rt_hnsw_params *rt_hnsw_get_params(const rt_hnsw *h) { return &h->p; }

int rt_hnsw_contains(rt_hnsw *h, int64_t label) {
    uint32_t id;
    pthread_rwlock_rdlock(&h->lock);
    int r = rt_hnsw_map_get(h, label, &id);
    pthread_rwlock_unlock(&h->lock);
    return r;
}

rt_status rt_hnsw_get_vector(rt_hnsw *h, int64_t label, float *out) {
    uint32_t id;
    pthread_rwlock_rdlock(&h->lock);
    int found = rt_hnsw_map_get(h, label, &id);
    if (found) memcpy(out, rt_hnsw_vec(h, id), (size_t)h->p.dim * sizeof(float));
    pthread_rwlock_unlock(&h->lock);
    if (!found) return rt_fail(RT_ERR_NOT_FOUND, "hnsw: no label %lld", (long long)label);
    return RT_OK;
}

size_t rt_hnsw_memory_bytes(const rt_hnsw *h) {
    size_t per_slot = h->node_bytes + sizeof(uint32_t *) + 1 + sizeof(int64_t) + sizeof(uint32_t) +
                      sizeof(uint32_t) + 2 * sizeof(uint16_t); /* parent, n_children, in_degree */
    size_t total = (size_t)h->cap * per_slot + h->map_cap * (sizeof(int64_t) + sizeof(uint32_t) + 1);
    for (uint32_t i = 0; i < h->n_slots; i++)
        if (h->level[i] != RT_HNSW_FREE_SLOT && h->level[i] > 0)
            total += (size_t)h->level[i] * (size_t)(1 + h->p.M) * sizeof(uint32_t);
    return total;
}
