/* retrace/hnsw.h: a Hierarchical Navigable Small World graph for approximate nearest neighbours.
 *
 * Vectors are float32 of a fixed dimension, each carrying a caller's int64 label (the memory store uses
 * the SQLite rowid). Distances: cosine (vectors are normalised on insert and on query), inner product
 * (distance 1 - <a,b>) and squared L2. Kernels use AVX-512 or AVX2/FMA when the CPU has them, chosen
 * at run time, with a scalar fallback that tests compare against.
 *
 * Deletion removes the node for real: every node that linked to it is reconnected through the deleted
 * node's neighbours with the same selection heuristic as insertion, and the slot is reused by the next
 * insert, so a store that churns does not grow.
 *
 * Concurrency: the object holds a reader-writer lock. Any number of threads may call rt_hnsw_search at
 * once; rt_hnsw_insert and rt_hnsw_delete take the lock exclusively (writer preferred, so a steady
 * stream of searches does not starve a writer). The file format is in docs/memory.md. */
#ifndef RETRACE_HNSW_H
#define RETRACE_HNSW_H

#include "retrace/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Explicit values; they are written into index files, so only grow at the end. */
typedef enum { RT_METRIC_COSINE = 0, RT_METRIC_IP = 1, RT_METRIC_L2 = 2 } rt_metric;

const char *rt_metric_name(rt_metric m);
rt_status rt_metric_parse(const char *name, rt_metric *out);

typedef struct {
    int dim;
    rt_metric metric;
    int M;               /* links per node on upper layers; layer 0 keeps 2*M */
    int ef_construction; /* beam width while inserting */
    int ef_search;       /* default beam width while searching (raised to k when smaller) */
    uint64_t seed;       /* level draws: the same seed and insert order give the same graph */
} rt_hnsw_params;

rt_hnsw_params rt_hnsw_params_default(int dim);

typedef struct rt_hnsw rt_hnsw;

typedef struct {
    int64_t label;
    float distance; /* smaller is nearer; cosine and IP: 1 - similarity */
} rt_hnsw_hit;

/* Returns nonzero when a label may appear in results (filtered search). */
typedef int (*rt_hnsw_filter_fn)(int64_t label, void *ctx);

rt_status rt_hnsw_create(const rt_hnsw_params *p, rt_hnsw **out);
void rt_hnsw_free(rt_hnsw *h);

/* Makes room for `n` vectors in all, so a bulk load allocates once (optional: inserts grow the
 * index by doubling as needed). */
rt_status rt_hnsw_reserve(rt_hnsw *h, int64_t n);
/* Adds one vector. A label already present is an RT_ERR_ARG error. */
rt_status rt_hnsw_insert(rt_hnsw *h, int64_t label, const float *vec);
/* Removes a label and repairs its neighbours' links (and the reachability of the nodes it linked to);
 * RT_ERR_NOT_FOUND when absent. */
rt_status rt_hnsw_delete(rt_hnsw *h, int64_t label);

/* The k nearest labels, nearest first; *n_out receives the count (less than k only when fewer than k
 * vectors pass the filter). ef <= 0 uses the params' ef_search. filter may be NULL. With a filter the
 * search keeps expanding until it has k accepted results or has visited every reachable node, so a
 * selective filter costs time, not results. */
rt_status rt_hnsw_search(rt_hnsw *h, const float *query, int k, int ef, rt_hnsw_filter_fn filter, void *ctx,
                         rt_hnsw_hit *out, int *n_out);

/* Exact search by scanning every vector (the reference recall is measured against). */
rt_status rt_hnsw_search_exact(rt_hnsw *h, const float *query, int k, rt_hnsw_filter_fn filter, void *ctx,
                               rt_hnsw_hit *out, int *n_out);

int64_t rt_hnsw_count(const rt_hnsw *h);
int rt_hnsw_contains(rt_hnsw *h, int64_t label);
const rt_hnsw_params *rt_hnsw_get_params(const rt_hnsw *h);
/* Bytes held by vectors, links and tables (for benchmarks). */
size_t rt_hnsw_memory_bytes(const rt_hnsw *h);
/* Copies the stored (for cosine: normalised) vector of `label` into out[dim]. */
rt_status rt_hnsw_get_vector(rt_hnsw *h, int64_t label, float *out);
/* Walks the graph and checks its invariants (link counts, no self or dangling links, every live node
 * reachable from the entry point on layer 0); fails with a message naming the first broken node (for
 * unreachable nodes: how many, and one label). */
rt_status rt_hnsw_validate(rt_hnsw *h);

/* Layer-0 connectivity: nodes no search can return whatever its ef (unreachable from the entry point)
 * and nodes other than the entry point without an incoming link. Both stay 0 through inserts and
 * deletes (each node keeps a parent that never prunes its link); a file written by an older build may
 * have some, which a rebuild removes. */
typedef struct {
    int64_t unreachable, no_in_link;
    int64_t first_unreachable; /* a label, -1 when none */
} rt_hnsw_connectivity_stats;
rt_status rt_hnsw_connectivity(rt_hnsw *h, rt_hnsw_connectivity_stats *out);

/* ---- persistence ----
 * The file is written atomically. `tag` is opaque caller state stored in the header (the memory store
 * puts the SQLite state the index reflects there) and given back by load. Load verifies the magic,
 * version, sizes and a checksum of the whole file before building anything. */
#define RT_HNSW_TAG_BYTES 64
rt_status rt_hnsw_save(rt_hnsw *h, const char *path, const uint8_t tag[RT_HNSW_TAG_BYTES]);
rt_status rt_hnsw_load(const char *path, rt_hnsw **out, uint8_t tag[RT_HNSW_TAG_BYTES]);

/* ---- distance kernels (exposed for tests and benchmarks) ---- */
float rt_dot_scalar(const float *a, const float *b, int n);
float rt_l2sq_scalar(const float *a, const float *b, int n);
/* The run-time choice: AVX-512, else AVX2/FMA, where the CPU supports them, else the scalar code.
 * An index takes the choice when it is created. */
float rt_dot(const float *a, const float *b, int n);
float rt_l2sq(const float *a, const float *b, int n);
/* "avx512f", "avx2+fma" or "scalar". */
const char *rt_distance_kernel_name(void);
/* Forces the scalar kernels (1) or restores the run-time choice (0); for tests and benchmarks. */
void rt_distance_force_scalar(int on);
/* Allows kernels up to `level` only (0 scalar, 1 AVX2/FMA, 2 AVX-512); for tests and benchmarks. */
void rt_distance_limit(int level);

#ifdef __cplusplus
}
#endif
#endif
