/* test_memory.c: the experience store end to end through the library: the hash embedder against an
 * independent Python implementation, add/export round trips with unknown fields, bad input, search
 * (weighting, filters, negatives, exclusion, dynamic keys), docs by version, recall on real text, and
 * the index file rebuilt or caught up when missing, corrupt or stale. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <jansson.h>
#include <math.h>
#include <sqlite3.h>

#include "memory_test_util.h"

static rt_memory *open_w(const char *dir) {
    rt_memory *m = NULL;
    assert_int_equal(rt_memory_open(dir, RT_MEMORY_WRITE, &m), RT_OK);
    return m;
}

static char *fresh_memory(void) {
    char *dir = t_tempdir();
    char *mem = rt_path_join(dir, "mem");
    free(dir);
    assert_int_equal(rt_memory_init(mem, NULL), RT_OK);
    return mem;
}

static void add_file(rt_memory *m, const char *path, rt_memory_add_stats *st) {
    rt_memory_add_opts o = {0};
    assert_int_equal(rt_memory_add_files(m, &path, 1, &o, st), RT_OK);
}

static void test_hash_embedder_matches_reference(void **state) {
    (void)state;
    json_t *ref;
    assert_int_equal(rt_json_load(RT_FIXTURES_DIR "/memory/hash_embed_ref.json", &ref), RT_OK);
    int dim = (int)json_integer_value(json_object_get(ref, "dim"));
    rt_embedder *e;
    assert_int_equal(rt_hash_embedder_create(dim, &e), RT_OK);
    json_t *cases = json_object_get(ref, "cases");
    float *v = malloc(sizeof(float) * (size_t)dim);
    for (size_t c = 0; c < json_array_size(cases); c++) {
        json_t *cs = json_array_get(cases, c);
        const char *text = json_string_value(json_object_get(cs, "text"));
        assert_int_equal(rt_embedder_embed(e, &text, 1, v), RT_OK);
        json_t *want = json_object_get(cs, "vector");
        double n2 = 0;
        for (int i = 0; i < dim; i++) {
            assert_float_equal(v[i], json_real_value(json_array_get(want, (size_t)i)), 1e-6);
            n2 += (double)v[i] * v[i];
        }
        assert_float_equal(n2, 1.0, 1e-5);
    }
    /* Batched and single calls agree. */
    const char *two[2] = {"take apple 1", "open the fridge"};
    float *b = malloc(sizeof(float) * 2 * (size_t)dim);
    assert_int_equal(rt_embedder_embed(e, two, 2, b), RT_OK);
    assert_int_equal(rt_embedder_embed(e, &two[1], 1, v), RT_OK);
    assert_memory_equal(b + dim, v, sizeof(float) * (size_t)dim);
    free(b);
    free(v);
    rt_embedder_free(e);
    json_decref(ref);
}

static void test_embedder_specs(void **state) {
    (void)state;
    rt_embedder *e;
    assert_int_equal(rt_embedder_open("hash", &e), RT_OK);
    assert_int_equal(rt_embedder_dim(e), RT_HASH_EMBED_DEFAULT_DIM);
    assert_string_equal(rt_embedder_spec(e), "hash-ngram-v1:384");
    rt_embedder_free(e);
    assert_int_equal(rt_embedder_open("hash:128", &e), RT_OK);
    assert_int_equal(rt_embedder_dim(e), 128);
    rt_embedder_free(e);
    assert_int_equal(rt_embedder_open("hash:0", &e), RT_ERR_ARG);
    assert_int_equal(rt_embedder_open("word2vec", &e), RT_ERR_ARG);
    assert_non_null(strstr(rt_errmsg(), "word2vec"));
    /* A directory is read as a model directory (test_bert.c covers real ones). */
    assert_int_equal(rt_embedder_open("/tmp", &e), RT_ERR_NOT_FOUND);
    assert_non_null(strstr(rt_errmsg(), "no config.json"));
}

static void test_state_text(void **state) {
    (void)state;
    rt_memory_step steps[3] = {{"t", "go to fridge 1", "The fridge is closed."}, {NULL, "open fridge 1", "You open it."},
                               {NULL, "take egg 1", NULL}};
    char *s = rt_memory_state_text("cool an egg", steps, 3, 0);
    assert_string_equal(s, "task: cool an egg");
    free(s);
    s = rt_memory_state_text("cool an egg", steps, 3, 2);
    assert_string_equal(s, "task: cool an egg\naction: open fridge 1 | observation: You open it.\naction: take egg 1 | observation: ");
    free(s);
    s = rt_memory_state_text("cool an egg", steps, 3, -1);
    assert_non_null(strstr(s, "go to fridge 1"));
    assert_null(strstr(s, "\nt"));
    free(s);
    assert_int_equal(rt_memory_state_from_json("{\"task\":\"x\",\"steps\":[{\"action\":\"a\",\"observation\":\"o\"}]}", 1, &s), RT_OK);
    assert_string_equal(s, "task: x\naction: a | observation: o");
    free(s);
    assert_int_equal(rt_memory_state_from_json("{\"steps\":[]}", 1, &s), RT_ERR_FORMAT);
}

static void test_add_export_round_trip(void **state) {
    (void)state;
    char *mem = fresh_memory();
    char *in = rt_path_join(mem, "../in.jsonl"), *out = rt_path_join(mem, "../out.jsonl");
    t_write_episodes(in, 0, 300, "ep");
    FILE *f = fopen(in, "a");
    fprintf(f, "\n{\"tool\":\"fridge\",\"version\":2,\"text\":\"open(id)\",\"since\":\"2024\"}\n");
    fprintf(f, "{\"tool\":\"fridge\",\"version\":\"10\",\"text\":\"open(id, force)\"}\n");
    fclose(f);
    rt_memory *m = open_w(mem);
    rt_memory_add_stats st;
    add_file(m, in, &st);
    assert_int_equal(st.episodes_added, 300);
    assert_int_equal(st.docs_added, 2);
    /* Adding the same lines again changes nothing. */
    add_file(m, in, &st);
    assert_int_equal(st.episodes_added, 0);
    assert_int_equal(st.episodes_unchanged, 300);
    assert_int_equal(st.docs_unchanged, 2);
    assert_int_equal(rt_memory_check(m), RT_OK);
    FILE *o = fopen(out, "w");
    int64_t n;
    assert_int_equal(rt_memory_export(m, o, &n), RT_OK);
    fclose(o);
    assert_int_equal(n, 302);
    rt_memory_stats stats;
    assert_int_equal(rt_memory_get_stats(m, &stats), RT_OK);
    assert_int_equal(stats.episodes, 300);
    assert_int_equal(stats.steps, 900);
    assert_int_equal(stats.docs, 2);
    assert_int_equal(stats.index_vectors, 300);
    rt_memory_close(m);
    /* Byte for byte, minus the blank line: unknown fields ("future_field", "since") survive. */
    char *a, *b;
    size_t la, lb;
    assert_int_equal(rt_file_read(in, &a, &la), RT_OK);
    assert_int_equal(rt_file_read(out, &b, &lb), RT_OK);
    char *blank = strstr(a, "\n\n");
    assert_non_null(blank);
    memmove(blank, blank + 1, strlen(blank + 1) + 1);
    assert_string_equal(a, b);
    assert_non_null(strstr(b, "\"future_field\":{\"kept\":[7,true,null]}"));
    free(a), free(b), free(in), free(out);
    t_rmrf(mem);
    free(mem);
}

static rt_status add_text(rt_memory *m, const char *text, int skip_bad, int replace, rt_memory_add_stats *st) {
    char name[64];
    snprintf(name, sizeof name, "rt_memtest_input_%d.jsonl", (int)getpid());
    char *path = rt_path_join("/tmp", name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    rt_memory_add_opts o = {skip_bad, replace};
    const char *p = path;
    rt_status s = rt_memory_add_files(m, &p, 1, &o, st);
    unlink(path);
    free(path);
    return s;
}

static int64_t n_episodes(rt_memory *m) {
    rt_memory_stats st;
    assert_int_equal(rt_memory_get_stats(m, &st), RT_OK);
    return st.episodes;
}

static void test_bad_input(void **state) {
    (void)state;
    char *mem = fresh_memory();
    rt_memory *m = open_w(mem);
    rt_memory_add_stats st;
    char good[2048], text[8192];
    t_episode_json(good, sizeof good, 1, "ok");
    /* A malformed line fails the whole add, naming file and line; nothing is kept. */
    snprintf(text, sizeof text, "%s\n{\"id\": \"x\", \"task\": \n", good);
    assert_int_equal(add_text(m, text, 0, 0, &st), RT_ERR_FORMAT);
    assert_non_null(strstr(rt_errmsg(), ".jsonl:2"));
    assert_non_null(strstr(rt_errmsg(), "nothing was added"));
    assert_int_equal(n_episodes(m), 0);
    /* --skip-bad keeps the good lines and counts the bad ones. */
    assert_int_equal(add_text(m, text, 1, 0, &st), RT_OK);
    assert_int_equal(st.lines_skipped, 1);
    assert_int_equal(st.episodes_added, 1);
    struct {
        const char *line, *needle;
    } bad[] = {
        {"{\"id\":\"a\",\"env\":\"e\",\"task\":\"t\",\"steps\":[],\"outcome\":\"success\"}", "'reward'"},
        {"{\"id\":\"a\",\"env\":\"e\",\"task\":\"t\",\"steps\":[],\"outcome\":\"won\",\"reward\":1}", "outcome"},
        {"{\"id\":\"a\",\"env\":\"e\",\"task\":\"t\",\"steps\":[],\"outcome\":\"success\",\"reward\":2}", "outside 0..1"},
        {"{\"id\":\"a\",\"env\":\"e\",\"task\":\"t\",\"steps\":{},\"outcome\":\"success\",\"reward\":1}", "'steps'"},
        {"{\"id\":\"a\",\"env\":\"e\",\"task\":\"t\",\"steps\":[3],\"outcome\":\"success\",\"reward\":1}", "step 0"},
        {"{\"env\":\"e\",\"task\":\"t\",\"steps\":[],\"outcome\":\"success\",\"reward\":1}", "'id'"},
        {"{\"tool\":\"fridge\",\"text\":\"x\"}", "'version'"},
        {"[1,2]", "JSON object"},
        {"{\"hello\":1}", "neither an episode"},
        {"{\"id\":\"a\",\"id\":\"b\"}", "invalid JSON"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(text, sizeof text, "%s\n", bad[i].line);
        assert_int_not_equal(add_text(m, text, 0, 0, &st), RT_OK);
        if (!strstr(rt_errmsg(), bad[i].needle)) fail_msg("case %zu: '%s' lacks '%s'", i, rt_errmsg(), bad[i].needle);
        assert_non_null(strstr(rt_errmsg(), ":1"));
    }
    /* The same id with other content: an error, unless replacing. */
    char changed[2048];
    t_episode_json(changed, sizeof changed, 2, "ok");
    char *p = strstr(changed, "\"ok2\"");
    memcpy(p, "\"ok1\"", 5);
    snprintf(text, sizeof text, "%s\n", changed);
    assert_int_equal(add_text(m, text, 0, 0, &st), RT_ERR_ARG);
    assert_non_null(strstr(rt_errmsg(), "'ok1'"));
    assert_int_equal(add_text(m, text, 0, 1, &st), RT_OK);
    assert_int_equal(st.episodes_replaced, 1);
    assert_int_equal(n_episodes(m), 1);
    assert_int_equal(rt_hnsw_count(rt_memory_index(m)), 1);
    assert_int_equal(rt_memory_check(m), RT_OK);
    rt_memory_close(m);
    /* A reader cannot add; a directory without a memory, or a second init, is refused. */
    assert_int_equal(rt_memory_open(mem, RT_MEMORY_READ, &m), RT_OK);
    rt_memory_batch *b;
    assert_int_equal(rt_memory_batch_begin(m, NULL, &b), RT_ERR_STATE);
    rt_memory_close(m);
    assert_int_equal(rt_memory_init(mem, NULL), RT_ERR_ARG);
    assert_int_equal(rt_memory_open("/tmp", RT_MEMORY_READ, &m), RT_ERR_NOT_FOUND);
    assert_non_null(strstr(rt_errmsg(), "not a retrace memory"));
    assert_int_equal(rt_memory_open("/nonexistent/mem", RT_MEMORY_READ, &m), RT_ERR_NOT_FOUND);
    /* A file that is not SQLite where memory.db should be. */
    char *dir = t_tempdir();
    char *db = rt_path_join(dir, "memory.db");
    assert_int_equal(rt_file_write_atomic(db, "not a database at all, just text.........................................", 72), RT_OK);
    assert_int_not_equal(rt_memory_open(dir, RT_MEMORY_READ, &m), RT_OK);
    assert_non_null(strstr(rt_errmsg(), "memory.db"));
    t_rmrf(dir);
    free(dir), free(db);
    t_rmrf(mem);
    free(mem);
}

static const char *json_str(const char *json, const char *key) {
    static char buf[256];
    json_t *o = json_loads(json, 0, NULL);
    snprintf(buf, sizeof buf, "%s", json_string_value(json_object_get(o, key)));
    json_decref(o);
    return buf;
}

static int hit_has_tool_version(const rt_memory_hit *h, const char *tool, int version) {
    json_t *o = json_loads(h->json, 0, NULL);
    json_t *v = json_object_get(json_object_get(o, "api_versions"), tool);
    int ok = v && json_integer_value(v) == version;
    json_decref(o);
    return ok;
}

static void test_search(void **state) {
    (void)state;
    char *mem = fresh_memory();
    char *in = rt_path_join(mem, "../in.jsonl");
    const int N = 960;
    t_write_episodes(in, 0, N, "ep");
    rt_memory *m = open_w(mem);
    rt_memory_add_stats st;
    add_file(m, in, &st);
    rt_memory_query q = rt_memory_query_default();
    q.k = 8;
    rt_memory_results r;
    /* The default is the agent's retrieval: successes only, at the agent's reward weight. */
    assert_int_equal(rt_memory_search(m, "task: put a hot apple in the fridge", &q, &r), RT_OK);
    assert_int_equal(r.n_hits, 8);
    assert_float_equal(r.weight, RT_MEMORY_REWARD_WEIGHT, 0);
    for (int i = 0; i < r.n_hits; i++) {
        assert_string_equal(r.hits[i].outcome, "success");
        assert_float_equal(r.hits[i].score, 0.5 * r.hits[i].similarity + 0.5 * r.hits[i].reward, 1e-9);
    }
    rt_memory_results_free(&r);
    /* The rest of this test asks for every outcome on purpose. */
    q.all_outcomes = 1;
    q.weight = 0;
    /* Pure similarity: the episodes with exactly this task come first (there are two: 0..479 repeat). */
    assert_int_equal(rt_memory_search(m, "task: put a hot apple in the fridge", &q, &r), RT_OK);
    assert_int_equal(r.n_hits, 8);
    assert_string_equal(r.hits[0].task, "put a hot apple in the fridge");
    for (int i = 0; i < r.n_hits; i++) {
        assert_float_equal(r.hits[i].score, r.hits[i].similarity, 1e-12);
        if (i) assert_true(r.hits[i - 1].score >= r.hits[i].score);
        assert_string_equal(json_str(r.hits[i].json, "id"), r.hits[i].id);
    }
    rt_memory_results_free(&r);
    /* Reward weight: scores are the documented mix and re-rank the candidates. */
    q.weight = 0.6;
    assert_int_equal(rt_memory_search(m, "task: put a hot apple in the fridge", &q, &r), RT_OK);
    for (int i = 0; i < r.n_hits; i++) {
        assert_float_equal(r.hits[i].score, 0.4 * r.hits[i].similarity + 0.6 * r.hits[i].reward, 1e-9);
        if (i) assert_true(r.hits[i - 1].score >= r.hits[i].score);
        assert_string_equal(r.hits[i].outcome, "success"); /* failures have reward 0 and sink */
    }
    rt_memory_results_free(&r);
    q.weight = 0;
    /* Filters, including one that leaves few episodes: still k results when k pass. */
    q.env = "toolapi";
    q.outcome = "failure";
    assert_int_equal(rt_memory_search(m, "task: put a cold mug in the sink", &q, &r), RT_OK);
    assert_int_equal(r.n_hits, 8);
    for (int i = 0; i < r.n_hits; i++) assert_string_equal(r.hits[i].env, "toolapi"), assert_string_equal(r.hits[i].outcome, "failure");
    rt_memory_results_free(&r);
    q.env = NULL, q.outcome = NULL;
    q.tool = "shelf";
    q.tool_version = "2";
    q.task_type = "clean";
    int pool = 0;
    for (int i = 0; i < N; i++) /* the generator's rule for place, type and version */
        pool += (i / 10) % 8 == 3 && (i / 80) % 6 == 2 && 1 + i % 3 == 2;
    assert_int_equal(rt_memory_search(m, "task: find a key in the drawer", &q, &r), RT_OK);
    assert_int_equal(r.filtered_pool, pool);
    assert_int_equal(r.n_hits, pool < 8 ? pool : 8);
    for (int i = 0; i < r.n_hits; i++) assert_true(hit_has_tool_version(&r.hits[i], "shelf", 2));
    rt_memory_results_free(&r);
    q.tool = q.tool_version = q.task_type = NULL;
    /* Negatives: failures only, most similar first, never the excluded episode nor a hit. */
    q.negatives = 4;
    q.exclude_id = "ep3";
    char *own;
    char line[2048];
    t_episode_json(line, sizeof line, 3, "ep");
    assert_int_equal(rt_memory_state_from_json(line, 2, &own), RT_OK);
    assert_int_equal(rt_memory_search(m, own, &q, &r), RT_OK);
    assert_int_equal(r.n_negatives, 4);
    for (int i = 0; i < r.n_negatives; i++) {
        assert_string_equal(r.negatives[i].outcome, "failure");
        assert_string_not_equal(r.negatives[i].id, "ep3");
        if (i) assert_true(r.negatives[i - 1].similarity >= r.negatives[i].similarity);
        for (int j = 0; j < r.n_hits; j++) assert_string_not_equal(r.negatives[i].id, r.hits[j].id);
    }
    for (int i = 0; i < r.n_hits; i++) assert_string_not_equal(r.hits[i].id, "ep3");
    /* ep3's twin (same task and steps, id ep483) is the nearest thing left. */
    assert_string_equal(r.hits[0].id, "ep483");
    /* Not 1: the query keys on the last 2 steps, the stored key on all 3. */
    assert_true(r.hits[0].similarity > 0.9);
    rt_memory_results_free(&r);
    /* Many hits, including failures: still no negative among them. */
    q.k = 150;
    q.negatives = 10;
    assert_int_equal(rt_memory_search(m, own, &q, &r), RT_OK);
    assert_int_equal(r.n_hits, 150);
    assert_int_equal(r.n_negatives, 10);
    for (int i = 0; i < r.n_negatives; i++)
        for (int j = 0; j < r.n_hits; j++) assert_string_not_equal(r.negatives[i].id, r.hits[j].id);
    rt_memory_results_free(&r);
    q.k = 8;
    free(own);
    /* Graph search agrees with the exact scan. */
    q.negatives = 0;
    q.exclude_id = NULL;
    int agree = 0, total = 0;
    for (int i = 0; i < 40; i++) {
        char key[512];
        snprintf(key, sizeof key, "task: %s %s in the %s", T_VERBS[i % 6], T_OBJECTS[(i * 3) % 10], T_PLACES[(i * 7) % 8]);
        rt_memory_results a, b;
        q.exact = -1; /* the index even where a scan would be cheaper */
        assert_int_equal(rt_memory_search(m, key, &q, &a), RT_OK);
        q.exact = 1;
        assert_int_equal(rt_memory_search(m, key, &q, &b), RT_OK);
        for (int x = 0; x < b.n_hits; x++, total++)
            for (int y = 0; y < a.n_hits; y++)
                if (fabs(a.hits[y].similarity - b.hits[x].similarity) < 1e-6) {
                    agree++;
                    break;
                }
        rt_memory_results_free(&a);
        rt_memory_results_free(&b);
    }
    print_message("index vs exact on stored episodes: %.3f\n", (double)agree / total);
    assert_true((double)agree / total >= 0.97);
    /* Bad queries. */
    q.k = 0;
    assert_int_equal(rt_memory_search(m, "x", &q, &r), RT_ERR_ARG);
    q.k = 3;
    q.weight = 1.5;
    assert_int_equal(rt_memory_search(m, "x", &q, &r), RT_ERR_ARG);
    rt_memory_close(m);
    free(in);
    t_rmrf(mem);
    free(mem);
}

/* Filtered searches reuse the allow list they read (search.c's filter cache) only while the store is
 * unchanged: the same query gives the same answer, and episodes added since are seen at once, through
 * this handle or another one, exactly as a handle with an empty cache sees them. */
static void test_filter_cache(void **state) {
    (void)state;
    char *mem = fresh_memory();
    char *in = rt_path_join(mem, "../in.jsonl"), *more = rt_path_join(mem, "../more.jsonl");
    t_write_episodes(in, 0, 300, "ep");
    t_write_episodes(more, 300, 420, "ep");
    rt_memory *m = open_w(mem);
    rt_memory_add_stats st;
    add_file(m, in, &st);
    rt_memory_query q = rt_memory_query_default();
    q.k = 5, q.env = "toolapi", q.outcome = "failure", q.negatives = 2;
    rt_memory_results a, b;
    assert_int_equal(rt_memory_search(m, "task: put a cold mug in the sink", &q, &a), RT_OK);
    assert_int_equal(rt_memory_search(m, "task: put a cold mug in the sink", &q, &b), RT_OK);
    assert_true(a.filtered_pool > 0);
    assert_int_equal(a.filtered_pool, b.filtered_pool);
    assert_int_equal(a.n_hits, b.n_hits);
    assert_int_equal(a.n_negatives, b.n_negatives);
    for (int i = 0; i < a.n_hits; i++) assert_string_equal(a.hits[i].id, b.hits[i].id);
    for (int i = 0; i < a.n_negatives; i++) assert_string_equal(a.negatives[i].id, b.negatives[i].id);
    int64_t before = a.filtered_pool;
    rt_memory_results_free(&a);
    rt_memory_results_free(&b);
    add_file(m, more, &st); /* through the same handle */
    assert_int_equal(rt_memory_search(m, "task: put a cold mug in the sink", &q, &a), RT_OK);
    rt_memory *fresh = open_w(mem);
    assert_int_equal(rt_memory_search(fresh, "task: put a cold mug in the sink", &q, &b), RT_OK);
    assert_true(a.filtered_pool > before);
    assert_int_equal(a.filtered_pool, b.filtered_pool);
    int64_t after = a.filtered_pool;
    for (int i = 0; i < a.n_hits; i++) assert_string_equal(a.hits[i].id, b.hits[i].id);
    rt_memory_results_free(&a);
    rt_memory_results_free(&b);
    /* Other filters in turn (more than the cache's slots), then the first again: same answers. */
    const char *types[] = {"clean", "heat", "cool", "pick", "look", "put"};
    for (int i = 0; i < 6; i++) {
        rt_memory_query o = q;
        o.task_type = types[i];
        assert_int_equal(rt_memory_search(m, "task: find a key in the drawer", &o, &a), RT_OK);
        assert_int_equal(rt_memory_search(fresh, "task: find a key in the drawer", &o, &b), RT_OK);
        assert_int_equal(a.filtered_pool, b.filtered_pool);
        rt_memory_results_free(&a);
        rt_memory_results_free(&b);
    }
    assert_int_equal(rt_memory_search(m, "task: put a cold mug in the sink", &q, &a), RT_OK);
    assert_int_equal(a.filtered_pool, after);
    rt_memory_results_free(&a);
    /* A write through the other handle is seen by this one too. */
    char *third = rt_path_join(mem, "../third.jsonl");
    t_write_episodes(third, 420, 500, "ep");
    add_file(fresh, third, &st);
    assert_int_equal(rt_memory_search(m, "task: put a cold mug in the sink", &q, &a), RT_OK);
    assert_int_equal(rt_memory_search(fresh, "task: put a cold mug in the sink", &q, &b), RT_OK);
    assert_int_equal(a.filtered_pool, b.filtered_pool);
    rt_memory_results_free(&a);
    rt_memory_results_free(&b);
    rt_memory_close(fresh);
    rt_memory_close(m);
    free(in), free(more), free(third);
    t_rmrf(mem);
    free(mem);
}

static void test_docs(void **state) {
    (void)state;
    assert_true(rt_version_cmp("1.10", "1.9") > 0);
    assert_true(rt_version_cmp("2", "10") < 0);
    assert_true(rt_version_cmp("v2", "v1") > 0);
    assert_true(rt_version_cmp("1.0", "1.0") == 0);
    assert_true(rt_version_cmp("1.0.1", "1.0") > 0);
    assert_true(rt_version_cmp("007", "7") == 0);
    char *mem = fresh_memory();
    rt_memory *m = open_w(mem);
    rt_memory_add_stats st;
    char ep[2048], text[8192];
    t_episode_json(ep, sizeof ep, 0, "d"); /* uses tool "fridge" at version 1 */
    snprintf(text, sizeof text,
             "{\"tool\":\"travel\",\"version\":\"1.9\",\"text\":\"book(dest)\"}\n"
             "{\"tool\":\"travel\",\"version\":\"1.10\",\"text\":\"book(dest, date)\"}\n"
             "{\"tool\":\"fridge\",\"version\":1,\"text\":\"open()\"}\n{\"tool\":\"fridge\",\"version\":3,\"text\":\"open(force)\"}\n"
             "{\"tool\":\"oven\",\"version\":1,\"text\":\"bake()\"}\n%s\n", ep);
    assert_int_equal(add_text(m, text, 0, 0, &st), RT_OK);
    assert_int_equal(st.docs_added, 5);
    rt_memory_doc d;
    assert_int_equal(rt_memory_doc_get(m, "travel", NULL, &d), RT_OK);
    assert_string_equal(d.version, "1.10");
    assert_string_equal(d.text, "book(dest, date)");
    rt_memory_doc_free(&d);
    assert_int_equal(rt_memory_doc_get(m, "travel", "1.9", &d), RT_OK);
    assert_string_equal(d.text, "book(dest)");
    rt_memory_doc_free(&d);
    assert_int_equal(rt_memory_doc_get(m, "travel", "3", &d), RT_ERR_NOT_FOUND);
    assert_int_equal(rt_memory_doc_get(m, "plane", NULL, &d), RT_ERR_NOT_FOUND);
    /* Tools named in the text (travel) or used by a hit (fridge), at their newest version; not oven. */
    rt_memory_query q = rt_memory_query_default();
    rt_memory_results r;
    assert_int_equal(rt_memory_search(m, "task: use the Travel api to put a hot apple away", &q, &r), RT_OK);
    rt_memory_doc *docs;
    int n;
    assert_int_equal(rt_memory_docs_for(m, "task: use the Travel api to put a hot apple away", &r, &docs, &n), RT_OK);
    assert_int_equal(n, 2);
    assert_string_equal(docs[0].tool, "fridge");
    assert_string_equal(docs[0].version, "3");
    assert_string_equal(docs[1].tool, "travel");
    assert_string_equal(docs[1].version, "1.10");
    rt_memory_docs_free(docs, n);
    /* With the versions in force pinned: fridge at 1 (not the newest 3), travel at 1.9; a pinned version
     * without a doc gives none rather than another version's. */
    const char *tools[] = {"fridge", "travel"}, *at[] = {"1", "1.9"}, *missing[] = {"2", "1.9"};
    assert_int_equal(rt_memory_docs_at(m, "task: use the Travel api to put a hot apple away", &r, tools, at, 2, &docs, &n), RT_OK);
    assert_int_equal(n, 2);
    assert_string_equal(docs[0].version, "1");
    assert_string_equal(docs[0].text, "open()");
    assert_string_equal(docs[1].version, "1.9");
    rt_memory_docs_free(docs, n);
    assert_int_equal(rt_memory_docs_at(m, "task: use the Travel api to put a hot apple away", &r, tools, missing, 2, &docs, &n), RT_OK);
    assert_int_equal(n, 1);
    assert_string_equal(docs[0].tool, "travel");
    rt_memory_docs_free(docs, n);
    /* a tool not in force (travel, only fridge pinned) is left out though the text names it */
    assert_int_equal(rt_memory_docs_at(m, "task: use the Travel api to put a hot apple away", &r, tools, at, 1, &docs, &n), RT_OK);
    assert_int_equal(n, 1);
    assert_string_equal(docs[0].tool, "fridge");
    rt_memory_docs_free(docs, n);
    rt_memory_results_free(&r);
    rt_memory_close(m);
    t_rmrf(mem);
    free(mem);
}

static double recall_real_text(rt_hnsw *h, const float *q, int nq, int dim, int ef) {
    int hit = 0, tot = 0;
    for (int i = 0; i < nq; i++) {
        rt_hnsw_hit a[10], b[10];
        int na, nb;
        assert_int_equal(rt_hnsw_search(h, q + (size_t)i * dim, 10, ef, NULL, NULL, a, &na), RT_OK);
        assert_int_equal(rt_hnsw_search_exact(h, q + (size_t)i * dim, 10, NULL, NULL, b, &nb), RT_OK);
        for (int x = 0; x < nb; x++, tot++)
            for (int y = 0; y < na; y++)
                if (a[y].label == b[x].label) {
                    hit++;
                    break;
                }
    }
    return (double)hit / tot;
}

static void test_recall_real_text(void **state) {
    (void)state;
    char *data;
    size_t len;
    assert_int_equal(rt_file_read(RT_FIXTURES_DIR "/memory/sentences.txt", &data, &len), RT_OK);
    const char *lines[4000];
    int n = 0;
    for (char *p = strtok(data, "\n"); p && n < 4000; p = strtok(NULL, "\n")) lines[n++] = p;
    assert_true(n >= 2500);
    rt_embedder *e;
    assert_int_equal(rt_embedder_open("hash", &e), RT_OK);
    int dim = rt_embedder_dim(e);
    float *v = malloc(sizeof(float) * (size_t)n * (size_t)dim);
    assert_int_equal(rt_embedder_embed(e, lines, n, v), RT_OK);
    /* The last 200 sentences are the queries; the rest are indexed. */
    int nq = 200, nb = n - nq;
    rt_hnsw_params p = rt_hnsw_params_default(dim);
    p.ef_construction = 100;
    rt_hnsw *h;
    assert_int_equal(rt_hnsw_create(&p, &h), RT_OK);
    for (int i = 0; i < nb; i++) assert_int_equal(rt_hnsw_insert(h, i, v + (size_t)i * dim), RT_OK);
    double r10 = recall_real_text(h, v + (size_t)nb * dim, nq, dim, 10);
    double r40 = recall_real_text(h, v + (size_t)nb * dim, nq, dim, 40);
    double r160 = recall_real_text(h, v + (size_t)nb * dim, nq, dim, 160);
    print_message("real text (%d sentences, dim %d) recall@10: ef=10 %.3f  ef=40 %.3f  ef=160 %.3f\n", nb, dim, r10, r40, r160);
    /* Measured 0.682, 0.920, 0.995: sparse hashed vectors have many near-ties, harder than dense ones. */
    assert_true(r10 >= 0.60);
    assert_true(r40 >= 0.88);
    assert_true(r160 >= 0.98);
    /* Nearest neighbours in the hashed space are related text: a sentence's nearest is itself. */
    rt_hnsw_hit a[1];
    int na;
    assert_int_equal(rt_hnsw_search(h, v + 5 * (size_t)dim, 1, 40, NULL, NULL, a, &na), RT_OK);
    assert_int_equal(a[0].label, 5);
    rt_hnsw_free(h);
    rt_embedder_free(e);
    free(v);
    free(data);
}

static void test_index_recovery(void **state) {
    (void)state;
    char *mem = fresh_memory();
    char *in = rt_path_join(mem, "../in.jsonl");
    char *idx = rt_path_join(mem, "index.hnsw"), *old = rt_path_join(mem, "../old.hnsw");
    t_write_episodes(in, 0, 400, "a");
    rt_memory *m = open_w(mem);
    rt_memory_add_stats st;
    add_file(m, in, &st);
    rt_memory_close(m);
    rt_log_set_level(RT_LOG_ERROR); /* the rebuild warnings are expected here */
    /* Missing. */
    unlink(idx);
    m = open_w(mem);
    assert_int_equal(rt_hnsw_count(rt_memory_index(m)), 400);
    assert_int_equal(rt_memory_check(m), RT_OK);
    rt_memory_close(m);
    assert_true(rt_path_exists(idx));
    /* Bit-flipped and truncated. */
    char *bytes;
    size_t len;
    assert_int_equal(rt_file_read(idx, &bytes, &len), RT_OK);
    long offs[] = {5, 100, (long)len / 2, (long)len - 2};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(t_flip_byte(idx, offs[i], 0x01), 0);
        assert_int_equal(rt_memory_open(mem, RT_MEMORY_READ, &m), RT_OK);
        assert_int_equal(rt_memory_check(m), RT_OK);
        rt_memory_close(m);
    }
    assert_int_equal(truncate(idx, (off_t)len / 3), 0);
    assert_int_equal(rt_memory_open(mem, RT_MEMORY_READ, &m), RT_OK);
    assert_int_equal(rt_memory_check(m), RT_OK);
    rt_memory_close(m);
    /* Stale: an older index file comes back after more adds (and a replacement). It is caught up. */
    free(bytes);
    assert_int_equal(rt_file_read(idx, &bytes, &len), RT_OK);
    assert_int_equal(rt_file_write_atomic(old, bytes, len), RT_OK);
    t_write_episodes(in, 400, 600, "a");
    m = open_w(mem);
    add_file(m, in, &st);
    char changed[2048], text[4096];
    t_episode_json(changed, sizeof changed, 7, "a");
    memcpy(strstr(changed, "Done."), "Fine.", 5);
    snprintf(text, sizeof text, "%s\n", changed);
    assert_int_equal(add_text(m, text, 0, 1, &st), RT_OK);
    assert_int_equal(st.episodes_replaced, 1);
    rt_memory_close(m);
    assert_int_equal(rt_file_write_atomic(idx, bytes, len), RT_OK);
    assert_int_equal(rt_memory_open(mem, RT_MEMORY_READ, &m), RT_OK);
    assert_int_equal(rt_hnsw_count(rt_memory_index(m)), 600);
    assert_int_equal(rt_memory_check(m), RT_OK);
    rt_memory_close(m);
    free(bytes);
    /* An index from another memory is not used. */
    char *mem2 = fresh_memory();
    char *idx2 = rt_path_join(mem2, "index.hnsw");
    assert_int_equal(rt_file_read(idx, &bytes, &len), RT_OK);
    assert_int_equal(rt_file_write_atomic(idx2, bytes, len), RT_OK);
    assert_int_equal(rt_memory_open(mem2, RT_MEMORY_READ, &m), RT_OK);
    assert_int_equal(rt_hnsw_count(rt_memory_index(m)), 0);
    assert_int_equal(rt_memory_check(m), RT_OK);
    rt_memory_close(m);
    /* A stored vector of the wrong size, and an embedder whose dimension disagrees with the
     * memory's, are clear errors naming the database, not crashes. */
    sqlite3 *db;
    char *dbp = rt_path_join(mem2, "memory.db");
    assert_int_equal(sqlite3_open(dbp, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "UPDATE meta SET value='hash:64' WHERE key='embedder'", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(rt_memory_open(mem2, RT_MEMORY_READ, &m), RT_ERR_FORMAT);
    assert_non_null(strstr(rt_errmsg(), "dimension 64"));
    assert_int_equal(sqlite3_exec(db, "UPDATE meta SET value='hash' WHERE key='embedder'", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    char *dbp1 = rt_path_join(mem, "memory.db");
    assert_int_equal(sqlite3_open(dbp1, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "UPDATE episode_data SET embedding=x'0000803f' WHERE seq=5", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    unlink(idx);
    assert_int_equal(rt_memory_open(mem, RT_MEMORY_READ, &m), RT_ERR_FORMAT);
    assert_non_null(strstr(rt_errmsg(), "seq 5 has a 4-byte embedding"));
    free(dbp), free(dbp1);
    rt_log_set_level(RT_LOG_INFO);
    free(bytes);
    t_rmrf(mem2);
    free(mem2), free(idx2);
    free(in), free(idx), free(old);
    t_rmrf(mem);
    free(mem);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_embedder_matches_reference),
        cmocka_unit_test(test_embedder_specs),
        cmocka_unit_test(test_state_text),
        cmocka_unit_test(test_add_export_round_trip),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_search),
        cmocka_unit_test(test_filter_cache),
        cmocka_unit_test(test_docs),
        cmocka_unit_test(test_recall_real_text),
        cmocka_unit_test(test_index_recovery),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
