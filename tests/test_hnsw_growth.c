/* test_hnsw_growth.c: an index large enough that its node array takes the huge-page allocation path
 * (2 MiB and up) and grows through it twice: stored vectors survive each copy, the graph checks out,
 * search matches brute force, and the grown index answers exactly as one reserved at full size up
 * front (growth must not change the graph). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "memory_test_util.h"

#define DIM 384 /* 1.7 KiB a node: 1024 slots stay under 2 MiB, 2048 and 4096 do not */
#define N 2500
#define NQ 40
#define K 10

static float *unit_vectors(int n, uint64_t seed) {
    rt_rng r;
    rt_rng_seed(&r, seed);
    float *v = malloc(sizeof(float) * (size_t)n * DIM);
    for (int i = 0; i < n; i++) {
        float *x = v + (size_t)i * DIM;
        double n2 = 0;
        for (int j = 0; j < DIM; j++) {
            /* a few shared directions, so neighbourhoods are not uniform */
            x[j] = rt_rng_normal(&r) + (j % 7 == i % 7 ? 1.5f : 0.0f);
            n2 += (double)x[j] * x[j];
        }
        for (int j = 0; j < DIM; j++) x[j] = (float)(x[j] / sqrt(n2));
    }
    return v;
}

/* The labels of the k largest inner products, by a plain loop (the reference). */
static void brute_force(const float *data, const float *q, int64_t *out) {
    float best[K];
    int n = 0;
    for (int i = 0; i < N; i++) {
        float s = 0;
        for (int j = 0; j < DIM; j++) s += q[j] * data[(size_t)i * DIM + j];
        if (n == K && s <= best[K - 1]) continue;
        int at = n < K ? n++ : K - 1;
        while (at > 0 && best[at - 1] < s) {
            best[at] = best[at - 1];
            out[at] = out[at - 1];
            at--;
        }
        best[at] = s;
        out[at] = i;
    }
}

static rt_hnsw *build(const float *data, int reserve) {
    rt_hnsw_params p = rt_hnsw_params_default(DIM);
    p.metric = RT_METRIC_IP;
    p.M = 8;
    p.ef_construction = 40;
    rt_hnsw *h;
    assert_int_equal(rt_hnsw_create(&p, &h), RT_OK);
    if (reserve) assert_int_equal(rt_hnsw_reserve(h, N), RT_OK);
    for (int i = 0; i < N; i++) assert_int_equal(rt_hnsw_insert(h, i, data + (size_t)i * DIM), RT_OK);
    return h;
}

static void test_growth_keeps_vectors_and_graph(void **state) {
    (void)state;
    float *data = unit_vectors(N, 7), *queries = unit_vectors(NQ, 8);
    rt_hnsw *grown = build(data, 0), *reserved = build(data, 1);
    assert_int_equal(rt_hnsw_validate(grown), RT_OK);
    float v[DIM];
    for (int i = 0; i < N; i++) {
        assert_int_equal(rt_hnsw_get_vector(grown, i, v), RT_OK);
        assert_memory_equal(v, data + (size_t)i * DIM, sizeof v);
    }
    int hits = 0;
    for (int q = 0; q < NQ; q++) {
        rt_hnsw_hit a[K], b[K];
        int na, nb;
        int64_t truth[K];
        assert_int_equal(rt_hnsw_search(grown, queries + (size_t)q * DIM, K, 64, NULL, NULL, a, &na), RT_OK);
        assert_int_equal(rt_hnsw_search(reserved, queries + (size_t)q * DIM, K, 64, NULL, NULL, b, &nb), RT_OK);
        assert_int_equal(na, K);
        assert_int_equal(nb, K);
        for (int i = 0; i < K; i++) {
            assert_true(a[i].label == b[i].label);
            assert_true(a[i].distance == b[i].distance);
        }
        brute_force(data, queries + (size_t)q * DIM, truth);
        for (int i = 0; i < K; i++)
            for (int j = 0; j < K; j++)
                if (a[j].label == truth[i]) {
                    hits++;
                    break;
                }
    }
    double recall = (double)hits / (NQ * K);
    assert_true(recall >= 0.9);
    rt_hnsw_free(grown);
    rt_hnsw_free(reserved);
    free(data);
    free(queries);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_growth_keeps_vectors_and_graph)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
