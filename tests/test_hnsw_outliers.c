/* test_hnsw_outliers.c: points unlike the rest of the data stay findable. Isolated pairs planted among
 * 1k and 10k clustered vectors are the first two results at the default ef, for several seeds (brute
 * force says they are the nearest); every node stays reachable from the entry point with an incoming
 * layer-0 link after inserts and after deletes; validate reports a node cut off by hand. The same check
 * at 100k and 1M (and hnswlib's result) is bench_ann's outlier column: a test at that size takes a
 * minute on a loaded machine, and timings do not belong in tests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "memory/hnsw_internal.h"
#include "memory_test_util.h"

#define DIM 32
#define CLUSTER_DIMS 24 /* clusters live in the first 24 coordinates; outliers in the other 8 */
#define N_CLUSTERS 40
#define N_PAIRS 4
#define PAIR_LABEL0 1000000000LL

/* n clustered vectors (Gaussian clusters, the hard case for graph indexes) with a little noise in
 * every coordinate, so outliers are far from (not orthogonal to) everything. */
static float *clustered(int n, uint64_t seed) {
    rt_rng r;
    rt_rng_seed(&r, seed);
    float *centres = malloc(sizeof(float) * N_CLUSTERS * CLUSTER_DIMS);
    for (int i = 0; i < N_CLUSTERS * CLUSTER_DIMS; i++) centres[i] = rt_rng_normal(&r);
    float *v = malloc(sizeof(float) * (size_t)n * DIM);
    for (int i = 0; i < n; i++) {
        int c = (int)rt_rng_below(&r, N_CLUSTERS);
        for (int j = 0; j < DIM; j++)
            v[(size_t)i * DIM + j] = (j < CLUSTER_DIMS ? centres[c * CLUSTER_DIMS + j] + 0.35f * rt_rng_normal(&r) : 0.0f) +
                                     0.15f * rt_rng_normal(&r);
    }
    free(centres);
    return v;
}

/* Pair p: two points near a random direction of the outlier coordinates, and a query near it. */
static void outlier(uint64_t seed, int p, int which, float *out) {
    rt_rng r;
    rt_rng_seed(&r, seed * 7919 + (uint64_t)p);
    float u[DIM] = {0};
    for (int j = CLUSTER_DIMS; j < DIM; j++) u[j] = 3.0f * rt_rng_normal(&r);
    rt_rng_seed(&r, seed * 104729 + (uint64_t)(p * 3 + which));
    for (int j = 0; j < DIM; j++) out[j] = u[j] + 0.6f * rt_rng_normal(&r);
}

/* Builds n clustered vectors with N_PAIRS isolated pairs inserted at random points of the stream. */
static rt_hnsw *build(int n, uint64_t seed) {
    float *data = clustered(n, seed);
    rt_hnsw_params p = rt_hnsw_params_default(DIM);
    p.seed = seed;
    rt_hnsw *h;
    assert_int_equal(rt_hnsw_create(&p, &h), RT_OK);
    assert_int_equal(rt_hnsw_reserve(h, n + 2 * N_PAIRS), RT_OK);
    int at[2 * N_PAIRS];
    rt_rng r;
    rt_rng_seed(&r, seed + 1);
    for (int i = 0; i < 2 * N_PAIRS; i++) at[i] = (int)rt_rng_below(&r, (uint64_t)n);
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < 2 * N_PAIRS; j++)
            if (at[j] == i) {
                float v[DIM];
                outlier(seed, j / 2, j % 2, v);
                assert_int_equal(rt_hnsw_insert(h, PAIR_LABEL0 + j, v), RT_OK);
            }
        assert_int_equal(rt_hnsw_insert(h, i, data + (size_t)i * DIM), RT_OK);
    }
    free(data);
    return h;
}

/* Every planted pair is exactly the two nearest (brute force) and the index's first two at ef 0. */
static int pairs_found(rt_hnsw *h, uint64_t seed) {
    int found = 0;
    for (int p = 0; p < N_PAIRS; p++) {
        float q[DIM];
        outlier(seed, p, 2, q);
        rt_hnsw_hit exact[2], approx[2];
        int ne, na;
        assert_int_equal(rt_hnsw_search_exact(h, q, 2, NULL, NULL, exact, &ne), RT_OK);
        assert_int_equal(rt_hnsw_search(h, q, 2, 0, NULL, NULL, approx, &na), RT_OK);
        assert_true(ne == 2 && exact[0].label / 2 == (PAIR_LABEL0 + 2 * p) / 2 && exact[1].label / 2 == exact[0].label / 2);
        int ok = na == 2 && approx[0].label / 2 == exact[0].label / 2 && approx[1].label / 2 == exact[0].label / 2;
        if (!ok) print_message("seed %llu pair %d: index returned %lld, %lld (similarity %.2f); exact %lld (%.2f)\n",
                               (unsigned long long)seed, p, (long long)approx[0].label, (long long)approx[1].label,
                               1 - approx[0].distance, (long long)exact[0].label, 1 - exact[0].distance);
        found += ok;
    }
    return found;
}

static void assert_connected(rt_hnsw *h) {
    rt_hnsw_connectivity_stats c;
    assert_int_equal(rt_hnsw_connectivity(h, &c), RT_OK);
    if (c.unreachable || c.no_in_link)
        print_message("%lld unreachable (label %lld), %lld without an in-link\n", (long long)c.unreachable,
                      (long long)c.first_unreachable, (long long)c.no_in_link);
    assert_int_equal(c.unreachable, 0);
    assert_int_equal(c.no_in_link, 0);
    assert_int_equal(rt_hnsw_validate(h), RT_OK);
}

static void planted(int n, int seeds) {
    for (int s = 1; s <= seeds; s++) {
        double t0 = rt_now();
        rt_hnsw *h = build(n, (uint64_t)s);
        int found = pairs_found(h, (uint64_t)s);
        print_message("n=%d seed %d: %d of %d isolated pairs first (%.1f s)\n", n, s, found, N_PAIRS, rt_now() - t0);
        assert_int_equal(found, N_PAIRS);
        assert_connected(h);
        rt_hnsw_free(h);
    }
}

static void test_planted_1k(void **state) { (void)state; planted(1000, 6); }
static void test_planted_10k(void **state) { (void)state; planted(10000, 3); }

/* Deleting the pairs' neighbours, a third of everything, and the entry point keeps the invariant. */
static void test_invariant_through_deletes(void **state) {
    (void)state;
    const int n = 3000;
    rt_hnsw *h = build(n, 11);
    assert_connected(h);
    rt_rng r;
    rt_rng_seed(&r, 99);
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < n; i++)
            if (rt_rng_below(&r, 9) == 0 && rt_hnsw_contains(h, i)) assert_int_equal(rt_hnsw_delete(h, i), RT_OK);
        int64_t entry_label = h->labels[h->entry];
        if (entry_label < PAIR_LABEL0) assert_int_equal(rt_hnsw_delete(h, entry_label), RT_OK);
        assert_connected(h);
        assert_int_equal(pairs_found(h, 11), N_PAIRS);
    }
    /* Reused slots join the tree like new ones. */
    float *more = clustered(1000, 12);
    for (int i = 0; i < 1000; i++) assert_int_equal(rt_hnsw_insert(h, 500000 + i, more + (size_t)i * DIM), RT_OK);
    free(more);
    assert_connected(h);
    assert_int_equal(pairs_found(h, 11), N_PAIRS);
    rt_hnsw_free(h);
}

/* A node whose in-links are cut by hand is reported, by count and label, and a save and load keeps it so. */
static void test_validate_reports_unreachable(void **state) {
    (void)state;
    rt_hnsw *h = build(2000, 5);
    uint32_t victim;
    assert_true(rt_hnsw_map_get(h, PAIR_LABEL0, &victim));
    uint32_t partner;
    assert_true(rt_hnsw_map_get(h, PAIR_LABEL0 + 1, &partner));
    for (uint32_t id = 0; id < h->n_slots; id++) {
        if (id == victim || id == partner) continue; /* the pair keeps its links to each other */
        uint32_t *ln = rt_hnsw_links(h, id, 0);
        uint32_t k = 0;
        for (uint32_t i = 1; i <= ln[0]; i++)
            if (ln[i] != victim && ln[i] != partner) ln[1 + k++] = ln[i];
        ln[0] = k;
    }
    rt_hnsw_connectivity_stats c;
    assert_int_equal(rt_hnsw_connectivity(h, &c), RT_OK);
    assert_int_equal(c.unreachable, 2);
    assert_true(c.first_unreachable == PAIR_LABEL0 || c.first_unreachable == PAIR_LABEL0 + 1);
    assert_int_equal(rt_hnsw_validate(h), RT_ERR_STATE);
    print_message("validate: %s\n", rt_errmsg());
    assert_non_null(strstr(rt_errmsg(), "2 of 2008 nodes are unreachable"));
    char *dir = t_tempdir(), path[1024];
    snprintf(path, sizeof path, "%s/cut.hnsw", dir);
    uint8_t tag[RT_HNSW_TAG_BYTES] = {0};
    assert_int_equal(rt_hnsw_save(h, path, tag), RT_OK);
    rt_hnsw *back;
    assert_int_equal(rt_hnsw_load(path, &back, tag), RT_OK);
    assert_int_equal(rt_hnsw_validate(back), RT_ERR_STATE);
    rt_hnsw_free(back);
    rt_hnsw_free(h);
    t_rmrf(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_planted_1k),
        cmocka_unit_test(test_planted_10k),
        cmocka_unit_test(test_invariant_through_deletes),
        cmocka_unit_test(test_validate_reports_unreachable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
