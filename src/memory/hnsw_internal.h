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
/* min_in_links = M / this (4 for the default M of 16): the fewest incoming layer-0 links pruning may
 * leave a node. 4 found every planted isolated pair of tests/test_hnsw_outliers.c at the default ef
 * where 1 (a single protected parent link) found none at 10k and 100k. */
#define RT_HNSW_MIN_IN_LINKS_DIV 4
/* A new node is a seed when its nearest neighbour is farther than the mean of that distance over earlier inserts by
 * RT_HNSW_SEED_SIGMAS standard deviations (after RT_HNSW_SEED_WARMUP inserts). At most
 * RT_HNSW_MAX_SEEDS are kept (the farthest), so a search pays at most that many extra distances. */
#define RT_HNSW_SEED_SIGMAS 3.0
#define RT_HNSW_SEED_WARMUP 100
#define RT_HNSW_MAX_SEEDS 64
#define RT_HNSW_NO_PARENT 0xFFFFFFFFu /* parent[] of the tree's root (the entry point) and of free slots */

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

    /* A spanning tree of layer 0 rooted at the entry point (hnsw_tree.c): parent[id] holds id in its
     * layer-0 links and neighbour pruning never drops it there, so every node stays reachable from
     * the entry point. n_children[] bounds how many of a node's links the tree may claim. */
    uint32_t *parent;
    uint16_t *n_children;
    /* Incoming layer-0 links per node. A link into a node with at most min_in_links of them is kept
     * by pruning too: a node unlike every other (whose back links the heuristic drops everywhere) keeps
     * links from several of its nearest neighbours, which a search for something near it passes. */
    uint16_t *in_degree;
    int min_in_links;
    /* Extra layer-0 starting points of every search: nodes far from every other when inserted (a point
     * unlike the rest). Links reach such a node
     * only from neighbours that are themselves far from it, which a search for something near it does
     * not pass; starting there costs one distance per seed. Saved with the index. */
    uint32_t *seeds;
    uint32_t n_seeds, seeds_cap;
    uint8_t *is_seed;
    float *seed_d;          /* seeds[i]'s distance to its nearest neighbour when it was inserted */
    double nn_n, nn_mean, nn_m2; /* running mean and variance of that distance over all inserts */
    uint32_t deleting; /* the node being deleted (its links are not kept), else RT_HNSW_NO_PARENT */

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
/* Structural checks only (no walk); the loader runs them before the tree exists. */
rt_status rt_hnsw_validate_structure(rt_hnsw *h);

/* ---- the layer-0 tree (hnsw_tree.c); all writer-side except rt_hnsw_reach ---- */
/* Replaces node's layer-0 links with ids[0..k), keeping in_degree[] current. */
void rt_hnsw_set_links0(rt_hnsw *h, uint32_t node, const uint32_t *ids, int k);
/* 1 when pruning must not drop node's link to x (x's tree parent, or x short of in-links). */
static inline int rt_hnsw_link_protected(const rt_hnsw *h, uint32_t node, uint32_t x) {
    return h->parent[x] == node || h->in_degree[x] <= h->min_in_links;
}
/* After `node`'s layer-0 links were re-selected into kept[0..*k) (nearest first) from a list that held
 * old[0..n_old), puts back any protected link the selection dropped, in place of the farthest
 * unprotected one. */
void rt_hnsw_keep_children(rt_hnsw *h, uint32_t node, const uint32_t *old, int n_old, uint32_t *kept, int *k);
/* Gives the new node `id` a parent among its layer-0 neighbours kept[0..k) (nearest first), preferring
 * one whose pruning kept the back link; makes it the root when it is the new entry point. */
void rt_hnsw_tree_insert(rt_hnsw *h, uint32_t id, const uint32_t *kept, int k, uint32_t old_entry);
/* Re-homes the children of `gone` (links already repaired, entry already moved) before its slot is freed. */
void rt_hnsw_tree_delete(rt_hnsw *h, uint32_t gone, const uint32_t *gone_links0);
/* Drops `id` from the seeds (deletion). */
void rt_hnsw_seed_remove(rt_hnsw *h, uint32_t id);
void rt_hnsw_seed_add(rt_hnsw *h, uint32_t id, float nn_d);
/* Notes a new node's nearest-neighbour distance; makes it a seed when it is an outlier. */
void rt_hnsw_seed_consider(rt_hnsw *h, uint32_t id, float nn_d);
/* Rebuilds the tree by a breadth-first walk from the entry point (after loading a file). */
void rt_hnsw_tree_rebuild(rt_hnsw *h);
/* Live nodes a breadth-first walk of layer 0 from the entry point does not reach, and nodes other
 * than the entry with no incoming layer-0 link; *first gets one unreachable node (reader side). */
void rt_hnsw_reach(const rt_hnsw *h, int64_t *unreachable, int64_t *no_in_link, uint32_t *first);

#endif
