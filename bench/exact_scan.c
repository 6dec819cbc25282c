/* exact_scan.c: where an exact scan is cheaper than the HNSW graph walk, for the memory's search
 * (src/memory/search.c picks between them by these numbers).
 *
 * Unfiltered: the index holds n vectors; a search for the `candidates` the memory re-ranks (32) costs a
 * walk at the default ef (64, plus up to 64 seed distances) or a scan of all n. Filtered: n is fixed and
 * the filter passes `pool` vectors; the scan tests the filter on every vector and measures the distance
 * of those that pass (rt_hnsw_search_exact, as search.c does), while the graph walk must expand
 * rejected nodes too.
 * Data: unit vectors of dimension 384 (the hash embedder's) in 64 Gaussian clusters.
 * Times are the thread's CPU time. Usage: bench_exact_scan [--queries 400] */
#include <math.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "retrace.h"

#define DIM 384
#define K 32
#define CLUSTERS 64

static float *clustered(int n, rt_rng *r, const float *centres) {
    float *v = malloc(sizeof(float) * (size_t)n * DIM);
    for (int i = 0; i < n; i++) {
        const float *c = centres + (size_t)rt_rng_below(r, CLUSTERS) * DIM;
        double n2 = 0;
        for (int j = 0; j < DIM; j++) {
            float x = c[j] + 0.8f * rt_rng_normal(r);
            v[(size_t)i * DIM + j] = x;
            n2 += (double)x * x;
        }
        for (int j = 0; j < DIM; j++) v[(size_t)i * DIM + j] /= (float)sqrt(n2);
    }
    return v;
}

/* This thread's CPU time: on the shared machine wall time also counts other processes' turns. */
static double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct {
    int64_t modulus; /* a label passes when label % modulus == 0 */
} every_nth;

static int pass(int64_t label, void *ctx) { return label % ((every_nth *)ctx)->modulus == 0; }

/* Microseconds per query of a graph search and of the exact scan, both filtered when f. */
static void time_pair(rt_hnsw *h, const float *q, int nq, every_nth *f, double *graph_us, double *scan_us) {
    rt_hnsw_hit hits[K];
    int got;
    double t0 = cpu_s();
    for (int i = 0; i < nq; i++) rt_hnsw_search(h, q + (size_t)i * DIM, K, 64, f ? pass : NULL, f, hits, &got);
    *graph_us = (cpu_s() - t0) * 1e6 / nq;
    t0 = cpu_s();
    for (int i = 0; i < nq; i++) rt_hnsw_search_exact(h, q + (size_t)i * DIM, K, f ? pass : NULL, f, hits, &got);
    *scan_us = (cpu_s() - t0) * 1e6 / nq;
}

int main(int argc, char **argv) {
    int nq = 400;
    if (argc == 3 && !strcmp(argv[1], "--queries")) nq = atoi(argv[2]);
    rt_set_threads(1);
    rt_rng r;
    rt_rng_seed(&r, 7);
    float *centres = malloc(sizeof(float) * CLUSTERS * DIM);
    for (int i = 0; i < CLUSTERS * DIM; i++) centres[i] = rt_rng_normal(&r) / sqrtf(DIM) * 2.0f;
    const int max_n = 16384;
    float *data = clustered(max_n, &r, centres), *q = clustered(nq, &r, centres);
    rt_hnsw *h;
    rt_hnsw_params p = rt_hnsw_params_default(DIM);
    rt_hnsw_create(&p, &h);
    printf("unfiltered: k=%d, ef 64, dim %d, one thread, CPU time per query\n%8s %12s %12s %8s\n", K, DIM, "n", "graph us", "scan us", "scan/graph");
    int n = 0;
    for (int target = 256; target <= max_n; target *= 2) {
        for (; n < target; n++) rt_hnsw_insert(h, n, data + (size_t)n * DIM);
        double g, s;
        time_pair(h, q, nq, NULL, &g, &s);
        printf("%8d %12.1f %12.1f %8.2f\n", n, g, s, s / g);
    }
    printf("\nfiltered, n=%d: the filter passes every m-th vector\n%8s %12s %12s %8s\n", n, "pool", "graph us", "scan us", "scan/graph");
    for (int64_t m = 2; m <= 64; m *= 2) {
        every_nth f = {m};
        double g, s;
        time_pair(h, q, nq, &f, &g, &s);
        printf("%8lld %12.1f %12.1f %8.2f\n", (long long)(n / m), g, s, s / g);
    }
    rt_hnsw_free(h);
    free(data), free(q), free(centres);
    return 0;
}
