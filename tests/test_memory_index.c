/* test_memory_index.c: the memory's query as retrieval uses it, against a brute-force reference built
 * from the episodes' JSON (exclusions, avoided task type, tool versions in force, successes as hits and
 * failures as negatives); and the derived index: a file of the previous format (1) is rebuilt from the
 * store on open, and nodes cut off from the entry point are reported by check and removed by rebuild. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <jansson.h>
#include <math.h>

#include "memory/hash.h"
#include "memory/hnsw_internal.h"
#include "memory_test_util.h"

#define N_EPISODES 960

static char *memory_with_episodes(void) {
    char *dir = t_tempdir(), *mem = rt_path_join(dir, "mem"), *in = rt_path_join(dir, "in.jsonl");
    free(dir);
    assert_int_equal(rt_memory_init(mem, NULL), RT_OK);
    t_write_episodes(in, 0, N_EPISODES, "ep");
    rt_memory *m;
    assert_int_equal(rt_memory_open(mem, RT_MEMORY_WRITE, &m), RT_OK);
    rt_memory_add_opts o = {0};
    rt_memory_add_stats st;
    const char *path = in;
    assert_int_equal(rt_memory_add_files(m, &path, 1, &o, &st), RT_OK);
    rt_memory_close(m);
    free(in);
    return mem;
}

/* ---- the query against brute force ---- */

typedef struct {
    int i;
    double sim, score;
} ref_hit;

static int by_sim(const void *a, const void *b) {
    const ref_hit *x = a, *y = b;
    return x->sim != y->sim ? (x->sim > y->sim ? -1 : 1) : x->i - y->i;
}

static int by_score(const void *a, const void *b) {
    const ref_hit *x = a, *y = b;
    return x->score != y->score ? (x->score > y->score ? -1 : 1) : x->i - y->i;
}

/* Whether an episode passes the query (outcome NULL: any), read from its JSON the way the agent's old
 * post-filter did. */
static int passes(const rt_memory_query *q, json_t *ep, int for_hits, const char *outcome) {
    const char *id = json_string_value(json_object_get(ep, "id")), *task = json_string_value(json_object_get(ep, "task"));
    const char *type = json_string_value(json_object_get(ep, "task_type"));
    if (outcome && strcmp(json_string_value(json_object_get(ep, "outcome")), outcome) != 0) return 0;
    if (q->env && strcmp(json_string_value(json_object_get(ep, "env")), q->env) != 0) return 0;
    if (q->exclude_id && !strcmp(id, q->exclude_id)) return 0;
    if (q->exclude_task && !strcmp(task, q->exclude_task)) return 0;
    if (for_hits && q->avoid_task_type && !strcmp(type, q->avoid_task_type)) return 0;
    json_t *used = json_object_get(ep, "api_versions");
    for (int p = 0; p < q->n_pins; p++) {
        json_t *v = json_object_get(used, q->pin_tools[p]);
        char buf[64];
        if (v && rt_version_text(v, buf, sizeof buf) && strcmp(buf, q->pin_versions[p]) != 0) return 0;
    }
    return 1;
}

/* The reference: the `pool` most similar passing episodes, re-ranked by score, the first k. */
static int reference(rt_memory *m, json_t **eps, const float *qv, const rt_memory_query *q, int for_hits, const char *outcome,
                     double w, int k, int pool, ref_hit *out) {
    int dim = rt_embedder_dim(rt_memory_embedder(m)), n = 0;
    ref_hit *all = calloc(N_EPISODES, sizeof *all);
    float *v = malloc(sizeof(float) * (size_t)dim);
    for (int i = 0; i < N_EPISODES; i++) {
        if (!passes(q, eps[i], for_hits, outcome)) continue;
        char *key, *json = json_dumps(eps[i], JSON_COMPACT);
        assert_int_equal(rt_memory_state_from_json(json, -1, &key), RT_OK);
        const char *texts[1] = {key};
        assert_int_equal(rt_embedder_embed(rt_memory_embedder(m), texts, 1, v), RT_OK);
        double sim = rt_dot(qv, v, dim);
        all[n++] = (ref_hit){i, sim, (1 - w) * sim + w * json_real_value(json_object_get(eps[i], "reward"))};
        free(key), free(json);
    }
    qsort(all, (size_t)n, sizeof *all, by_sim);
    if (n > pool) n = pool;
    qsort(all, (size_t)n, sizeof *all, by_score);
    if (n > k) n = k;
    memcpy(out, all, (size_t)n * sizeof *out);
    free(all), free(v);
    return n;
}

/* The scan must give exactly the reference, the graph walk the same similarities, each hit passing the
 * filters. The generator's episodes repeat every 480, so twins tie and either may come back. */
static void expect_same(const rt_memory_hit *got, int n_got, const ref_hit *want, int n_want, json_t **eps, int exact,
                        const rt_memory_query *q, int for_hits, const char *outcome) {
    assert_int_equal(n_got, n_want);
    for (int i = 0; i < n_got; i++) {
        if (exact) assert_int_equal(atoi(got[i].id + 2) % 480, want[i].i % 480); /* that episode or its twin */
        assert_float_equal(got[i].similarity, want[i].sim, 1e-5);
        assert_true(passes(q, eps[atoi(got[i].id + 2)], for_hits, outcome));
    }
}

static void test_query_filters_match_brute_force(void **state) {
    (void)state;
    char *mem = memory_with_episodes();
    json_t **eps = malloc(sizeof *eps * N_EPISODES);
    for (int i = 0; i < N_EPISODES; i++) {
        char line[2048];
        t_episode_json(line, sizeof line, i, "ep");
        eps[i] = json_loads(line, 0, NULL);
    }
    rt_memory *m;
    assert_int_equal(rt_memory_open(mem, RT_MEMORY_READ, &m), RT_OK);
    const char *pin_tools[] = {"fridge", "sink"}, *pin_versions[] = {"2", "1"};
    struct {
        const char *name, *env, *exclude_id, *exclude_task, *avoid;
        int n_pins, all_outcomes;
    } cases[] = {
        {"default", NULL, NULL, NULL, NULL, 0, 0},
        {"env, own episode and task instance", "household", "ep3", "put a hot apple in the fridge", NULL, 0, 0},
        {"avoided type", NULL, NULL, NULL, "heat", 0, 0},
        {"tool versions in force", NULL, NULL, NULL, NULL, 2, 0},
        {"everything at once", "household", "ep10", "put a hot mug in the fridge", "heat", 2, 0},
        {"all outcomes", NULL, NULL, NULL, NULL, 2, 1},
    };
    const char *keys[] = {"task: put a hot apple in the fridge", "task: put a cold mug in the sink", "task: examine the book on the shelf"};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++)
        for (size_t kq = 0; kq < 3; kq++) {
            rt_memory_query q = rt_memory_query_default();
            q.k = 4, q.negatives = 3, q.exact = kq % 2 ? 1 : -1; /* the scan, and the index with the filter inside the graph walk */
            q.env = cases[c].env, q.exclude_id = cases[c].exclude_id, q.exclude_task = cases[c].exclude_task;
            q.avoid_task_type = cases[c].avoid, q.all_outcomes = cases[c].all_outcomes;
            q.pin_tools = pin_tools, q.pin_versions = pin_versions, q.n_pins = cases[c].n_pins;
            rt_memory_results r;
            assert_int_equal(rt_memory_search(m, keys[kq], &q, &r), RT_OK);
            float qv[RT_HASH_EMBED_DEFAULT_DIM];
            assert_int_equal(rt_embedder_embed(rt_memory_embedder(m), &keys[kq], 1, qv), RT_OK);
            ref_hit want[16];
            /* Hits: successes (any outcome with all_outcomes) among the 32 nearest passing, by score. */
            int n = reference(m, eps, qv, &q, 1, cases[c].all_outcomes ? NULL : "success", RT_MEMORY_REWARD_WEIGHT, q.k, 32, want);
            expect_same(r.hits, r.n_hits, want, n, eps, q.exact > 0, &q, 1, cases[c].all_outcomes ? NULL : "success");
            /* Negatives: the nearest failures under the same filters, the avoided type allowed, no hit. */
            n = reference(m, eps, qv, &q, 0, "failure", 0.0, q.negatives + q.k, q.negatives + q.k, want);
            int kept = 0;
            for (int i = 0; i < n && kept < q.negatives; i++) {
                int is_hit = 0;
                for (int j = 0; j < r.n_hits; j++) is_hit |= !strcmp(r.hits[j].id, json_string_value(json_object_get(eps[want[i].i], "id")));
                if (!is_hit) want[kept++] = want[i];
            }
            expect_same(r.negatives, r.n_negatives, want, kept, eps, q.exact > 0, &q, 0, "failure");
            print_message("%s, query %zu: %d hits, %d negatives, pool %lld\n", cases[c].name, kq, r.n_hits, r.n_negatives,
                          (long long)r.filtered_pool);
            rt_memory_results_free(&r);
        }
    rt_memory_close(m);
    for (int i = 0; i < N_EPISODES; i++) json_decref(eps[i]);
    free(eps);
    t_rmrf(mem);
    free(mem);
}

/* ---- the derived index ---- */

/* Rewrites a format-2 index file as the previous release wrote it: version 1, no seed list, its own
 * checksum (so that loading reaches the version check). */
static void downgrade_to_format_1(const char *path) {
    char *data;
    size_t len;
    assert_int_equal(rt_file_read(path, &data, &len), RT_OK);
    uint32_t version, dim, M, n_slots;
    memcpy(&version, data + 8, 4), memcpy(&dim, data + 12, 4), memcpy(&M, data + 20, 4), memcpy(&n_slots, data + 32, 4);
    assert_int_equal(version, 2);
    size_t off = 192 + (size_t)n_slots * 9 + (size_t)n_slots * dim * 4 + (size_t)n_slots * (1 + 2 * M) * 4;
    for (uint32_t i = 0; i < n_slots; i++) { /* upper links of live slots with a level */
        uint8_t level = (uint8_t)data[192 + (size_t)i * 9 + 8];
        if (level != 0xFF && level > 0) off += (size_t)level * (1 + M) * 4;
    }
    uint32_t n_seeds;
    memcpy(&n_seeds, data + off, 4);
    assert_int_equal(off + 4 + 8 * (size_t)n_seeds + 8, len); /* the seed list is all that follows */
    version = 1;
    memcpy(data + 8, &version, 4);
    rt_checksum ck;
    rt_checksum_init(&ck);
    rt_checksum_update(&ck, data, off);
    uint64_t sum = rt_checksum_final(&ck);
    memcpy(data + off, &sum, 8);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, off + 8, f), off + 8);
    fclose(f);
    free(data);
}

static uint32_t file_version(const char *path) {
    FILE *f = fopen(path, "rb");
    uint8_t head[12];
    assert_int_equal(fread(head, 1, 12, f), 12);
    fclose(f);
    uint32_t v;
    memcpy(&v, head + 8, 4);
    return v;
}

static void test_format_1_is_rebuilt(void **state) {
    (void)state;
    char *mem = memory_with_episodes(), *index = rt_path_join(mem, "index.hnsw");
    downgrade_to_format_1(index);
    rt_hnsw *h;
    uint8_t tag[RT_HNSW_TAG_BYTES];
    assert_int_equal(rt_hnsw_load(index, &h, tag), RT_ERR_FORMAT);
    print_message("load: %s\n", rt_errmsg());
    assert_non_null(strstr(rt_errmsg(), "index format version 1, this build reads 2"));
    rt_memory *m;
    assert_int_equal(rt_memory_open(mem, RT_MEMORY_WRITE, &m), RT_OK);
    assert_int_equal(rt_hnsw_count(rt_memory_index(m)), N_EPISODES);
    assert_int_equal(rt_memory_check(m), RT_OK);
    rt_memory_close(m);
    assert_int_equal(file_version(index), 2); /* rebuilt from SQLite and saved in the current format */
    free(index);
    t_rmrf(mem);
    free(mem);
}

/* Cuts every layer-0 link to two episodes in the saved index (as a file of an older build could be). */
static void cut_in_links(const char *index, int64_t a, int64_t b) {
    rt_hnsw *h;
    uint8_t tag[RT_HNSW_TAG_BYTES];
    assert_int_equal(rt_hnsw_load(index, &h, tag), RT_OK);
    uint32_t va, vb;
    assert_true(rt_hnsw_map_get(h, a, &va) && rt_hnsw_map_get(h, b, &vb));
    for (uint32_t id = 0; id < h->n_slots; id++) {
        if (id == va || id == vb) continue;
        uint32_t *ln = rt_hnsw_links(h, id, 0), k = 0;
        for (uint32_t i = 1; i <= ln[0]; i++)
            if (ln[i] != va && ln[i] != vb) ln[1 + k++] = ln[i];
        ln[0] = k;
    }
    assert_int_equal(rt_hnsw_save(h, index, tag), RT_OK);
    rt_hnsw_free(h);
}

static void test_check_reports_unreachable_rebuild_fixes(void **state) {
    (void)state;
    char *mem = memory_with_episodes(), *index = rt_path_join(mem, "index.hnsw");
    cut_in_links(index, 100, 101);
    rt_memory *m;
    assert_int_equal(rt_memory_open(mem, RT_MEMORY_WRITE, &m), RT_OK);
    rt_hnsw_connectivity_stats c;
    assert_int_equal(rt_hnsw_connectivity(rt_memory_index(m), &c), RT_OK);
    assert_int_equal(c.unreachable, 2);
    assert_int_equal(rt_memory_check(m), RT_ERR_STATE);
    print_message("check: %s\n", rt_errmsg());
    assert_non_null(strstr(rt_errmsg(), "2 of 960 nodes are unreachable"));
    assert_int_equal(rt_memory_rebuild(m), RT_OK);
    assert_int_equal(rt_hnsw_connectivity(rt_memory_index(m), &c), RT_OK);
    assert_int_equal(c.unreachable, 0);
    assert_int_equal(c.no_in_link, 0);
    assert_int_equal(rt_memory_check(m), RT_OK);
    rt_memory_close(m);
    free(index);
    t_rmrf(mem);
    free(mem);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_query_filters_match_brute_force),
        cmocka_unit_test(test_format_1_is_rebuilt),
        cmocka_unit_test(test_check_reports_unreachable_rebuild_fixes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
