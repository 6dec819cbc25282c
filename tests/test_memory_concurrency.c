/* test_memory_concurrency.c: many readers and one writer on one rt_memory. Reader threads search
 * (graph and filtered) while a writer thread adds batches; every result must be whole and consistent
 * (k hits once k episodes exist, sorted, each hit's JSON is the episode its id names, filters hold),
 * and at the end the index agrees with the store. Also run by hand under ThreadSanitizer
 * (see docs/memory.md). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>

#include "memory_test_util.h"

#define READERS 4
#define BATCHES 8
#define PER_BATCH 40
#define PRELOAD 200

typedef struct {
    rt_memory *m;
    atomic_int *stop;
    int id;
    int searches, failures;
    char why[256];
} reader_arg;

static int check_result(const rt_memory_results *r, const rt_memory_query *q, char *why, size_t n) {
    if (r->n_hits != q->k) return snprintf(why, n, "%d hits for k=%d", r->n_hits, q->k), 1;
    for (int i = 0; i < r->n_hits; i++) {
        const rt_memory_hit *h = &r->hits[i];
        if (i && r->hits[i - 1].score < h->score) return snprintf(why, n, "hits out of order"), 1;
        json_t *o = json_loads(h->json, 0, NULL);
        const char *id = json_string_value(json_object_get(o, "id"));
        const char *env = json_string_value(json_object_get(o, "env"));
        int bad = !id || strcmp(id, h->id) != 0 || !env || strcmp(env, h->env) != 0;
        json_decref(o);
        if (bad) return snprintf(why, n, "hit %s: JSON does not match its row", h->id), 1;
        if (q->env && strcmp(h->env, q->env) != 0) return snprintf(why, n, "filter env broken"), 1;
    }
    for (int i = 0; i < r->n_negatives; i++)
        if (strcmp(r->negatives[i].outcome, "failure") != 0) return snprintf(why, n, "a negative that succeeded"), 1;
    return 0;
}

static void *reader(void *p) {
    reader_arg *a = p;
    rt_rng r;
    rt_rng_seed(&r, 1000 + (uint64_t)a->id);
    while (!atomic_load(a->stop)) {
        rt_memory_query q = rt_memory_query_default();
        q.k = 5;
        q.negatives = (int)rt_rng_below(&r, 3);
        q.weight = rt_rng_double(&r);
        if (rt_rng_below(&r, 3) == 0) q.env = "toolapi";
        char key[256];
        snprintf(key, sizeof key, "task: %s %s in the %s", T_VERBS[rt_rng_below(&r, 6)], T_OBJECTS[rt_rng_below(&r, 10)],
                 T_PLACES[rt_rng_below(&r, 8)]);
        rt_memory_results res;
        if (rt_memory_search(a->m, key, &q, &res) != RT_OK) {
            snprintf(a->why, sizeof a->why, "search failed: %s", rt_errmsg());
            a->failures++;
            continue;
        }
        if (check_result(&res, &q, a->why, sizeof a->why)) a->failures++;
        rt_memory_results_free(&res);
        a->searches++;
    }
    return NULL;
}

static void test_readers_and_writer(void **state) {
    (void)state;
    char *dir = t_tempdir();
    char *mem = rt_path_join(dir, "mem"), *file = rt_path_join(dir, "in.jsonl");
    assert_int_equal(rt_memory_init(mem, NULL), RT_OK);
    rt_memory *m;
    assert_int_equal(rt_memory_open(mem, RT_MEMORY_WRITE, &m), RT_OK);
    t_write_episodes(file, 0, PRELOAD, "p");
    rt_memory_add_stats st;
    const char *files[1] = {file};
    assert_int_equal(rt_memory_add_files(m, files, 1, NULL, &st), RT_OK);
    atomic_int stop = 0;
    pthread_t th[READERS];
    reader_arg args[READERS];
    for (int i = 0; i < READERS; i++) {
        args[i] = (reader_arg){.m = m, .stop = &stop, .id = i};
        assert_int_equal(pthread_create(&th[i], NULL, reader, &args[i]), 0);
    }
    /* The writer: batches through the batch API, line by line, while readers run. */
    char line[2048];
    for (int b = 0; b < BATCHES; b++) {
        rt_memory_batch *batch;
        assert_int_equal(rt_memory_batch_begin(m, NULL, &batch), RT_OK);
        for (int i = 0; i < PER_BATCH; i++) {
            t_episode_json(line, sizeof line, PRELOAD + b * PER_BATCH + i, "w");
            assert_int_equal(rt_memory_batch_add(batch, line, "writer"), RT_OK);
        }
        assert_int_equal(rt_memory_batch_commit(batch, &st), RT_OK);
        assert_int_equal(st.episodes_added, PER_BATCH);
    }
    /* A rebuild swaps the whole index under the readers. */
    assert_int_equal(rt_memory_rebuild(m), RT_OK);
    atomic_store(&stop, 1);
    int searches = 0;
    for (int i = 0; i < READERS; i++) {
        pthread_join(th[i], NULL);
        searches += args[i].searches;
        if (args[i].failures) fail_msg("reader %d: %d bad results, last: %s", i, args[i].failures, args[i].why);
    }
    print_message("%d searches by %d readers during %d writes\n", searches, READERS, BATCHES);
    assert_true(searches > READERS);
    assert_int_equal(rt_hnsw_count(rt_memory_index(m)), PRELOAD + BATCHES * PER_BATCH);
    assert_int_equal(rt_memory_check(m), RT_OK);
    rt_memory_close(m);
    t_rmrf(dir);
    free(dir), free(mem), free(file);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_readers_and_writer)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
