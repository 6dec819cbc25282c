/* hnsw_internal.h: the HNSW object's layout, shared by the graph, deletion and file code (private).
 *
 * Node ids are dense slot numbers (uint32); labels are the caller's int64. Each node's vector and its
 * layer-0 links (a count, then up to M0 neighbour ids) share one 64-byte-aligned block in a single
 * array, so expanding a node whose vector was just read finds its links in cache (this layout was
 * worth about a third of search speed over separate arrays). Upper layers are a per-node block of
 * level * (1 + M) words, present only for the few nodes above layer 0. */
#ifndef RT_MEMORY_HNSW_INTERNAL_H
#define RT_MEMORY_HNSW_INTERNAL_H

#include <pthread.h>

#include "memory/distance.h"
#include "retrace/hnsw.h"

#define RT_HNSW_FREE_SLOT 0xFFu /* level[] value of an unused slot */
#define RT_HNSW_MAX_LEVEL 30
#define RT_HNSW_MAX_M 128
#define RT_HNSW_MAX_DIM 65536
#define RT_HNSW_STRIDE_FLOATS 16 /* vectors start on 64-byte boundaries */

typedef struct {
    float d;
    uint32_t id;
} rt_hnsw_cand;

typedef struct {
    rt_hnsw_cand *v;
    size_t n, cap;
} rt_cand_heap;

/* Per-search working memory, pooled so concurrent searches do not allocate. */
typedef struct rt_hnsw_scratch {
    uint32_t *visited; /* visited[id] == epoch marks a node seen in the current search */
    uint32_t visited_cap;
    uint32_t epoch;
    rt_cand_heap cands;   /* min-heap: frontier */
    rt_cand_heap results; /* max-heap: best found */
    struct rt_hnsw_scratch *next;
} rt_hnsw_scratch;

struct rt_hnsw {
    rt_hnsw_params p;
    int M0;
    size_t stride; /* floats per stored vector */
    rt_dist_fn dot, l2;

    uint32_t cap;     /* allocated slots */
    uint32_t n_slots; /* slots ever used (high-water mark) */
    int64_t count;    /* live nodes */
    uint8_t *nodes;    /* cap blocks of node_bytes: vector (vec_bytes), then layer-0 links */
    size_t node_bytes, vec_bytes;
    uint32_t **upper;
    uint8_t *level;
    int64_t *labels;
    uint32_t *free_ids;
    uint32_t n_free;

    /* label -> id, open addressing with linear probing; state 0 empty, 1 used, 2 deleted */
    int64_t *map_keys;
    uint32_t *map_vals;
    uint8_t *map_state;
    size_t map_cap, map_used;

    uint32_t entry;
    int max_level; /* -1 when empty */
    rt_rng rng;
    double level_mult;

    pthread_rwlock_t lock;
    pthread_mutex_t pool_lock;
    rt_hnsw_scratch *pool;
};

static inline float *rt_hnsw_vec(const rt_hnsw *h, uint32_t id) { return (float *)(void *)(h->nodes + (size_t)id * h->node_bytes); }

static inline uint32_t *rt_hnsw_links(const rt_hnsw *h, uint32_t id, int level) {
    if (level == 0) return (uint32_t *)(void *)(h->nodes + (size_t)id * h->node_bytes + h->vec_bytes);
    return h->upper[id] + (size_t)(level - 1) * (size_t)(1 + h->p.M);
}

static inline int rt_hnsw_max_links(const rt_hnsw *h, int level) { return level == 0 ? h->M0 : h->p.M; }

static inline float rt_hnsw_dist(const rt_hnsw *h, const float *a, const float *b) {
    if (h->p.metric == RT_METRIC_L2) return h->l2(a, b, h->p.dim);
    return 1.0f - h->dot(a, b, h->p.dim);
}

/* A reader-writer lock that lets a waiting writer in before new readers; glibc's default prefers
 * readers, so a steady stream of searches could hold off an insert or an index swap for good. */
static inline void rt_rwlock_init_writer_first(pthread_rwlock_t *l) {
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(l, &attr);
    pthread_rwlockattr_destroy(&attr);
}

/* Internal pieces used by more than one file; callers hold the lock as noted. */
rt_status rt_hnsw_grow(rt_hnsw *h, uint32_t need);           /* writer */
void *rt_hnsw_big_alloc(size_t bytes); /* zeroed, in huge pages where the OS allows */
void rt_hnsw_big_free(void *p);
int rt_hnsw_map_get(const rt_hnsw *h, int64_t label, uint32_t *id);
void rt_hnsw_map_put(rt_hnsw *h, int64_t label, uint32_t id);   /* writer */
void rt_hnsw_map_remove(rt_hnsw *h, int64_t label);             /* writer */
rt_hnsw_scratch *rt_hnsw_scratch_get(rt_hnsw *h);
void rt_hnsw_scratch_put(rt_hnsw *h, rt_hnsw_scratch *s);
void rt_hnsw_scratch_begin(rt_hnsw_scratch *s);                 /* new visited epoch */
/* Keeps the `m` candidates (sorted nearest first, distances to the base node) that are nearer to the
 * base than to any already kept one; writes their ids to out and returns how many. */
int rt_hnsw_select(const rt_hnsw *h, const rt_hnsw_cand *cands, int n, int m, uint32_t *out);
void rt_hnsw_cand_sort(rt_hnsw_cand *c, int n);
rt_status rt_hnsw_alloc_upper(rt_hnsw *h, uint32_t id, int level);

#endif
