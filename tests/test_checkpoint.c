/* test_checkpoint.c: resume continues bit for bit; damaged or mismatched checkpoints fail cleanly.
 *
 * The toy problem is least squares, y = W x + b, trained with minibatches drawn by an rt_rng, gradient
 * accumulation over two micro-batches, clipping, a warmup+cosine schedule and AdamW: every piece of
 * state a checkpoint must carry (parameters, both moments, the step, the RNG, the caller's cursor) is
 * exercised, so any piece it dropped would make the resumed run diverge. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "retrace.h"

#define IN_DIM 8
#define OUT_DIM 3
#define N_EXAMPLES 64
#define MICRO_BATCH 4
#define ACCUM_STEPS 2
#define TOTAL_STEPS 60
#define RESUME_AT 17
#define DATA_SEED 11
#define TRAIN_SEED 5
#define MAX_PATH 512

typedef struct {
    float x[N_EXAMPLES][IN_DIM], y[N_EXAMPLES][OUT_DIM];
} dataset;

typedef struct {
    /* One spare bias slot, for the test that loads into a model whose bias is one longer. */
    float w[OUT_DIM * IN_DIM], b[OUT_DIM + 1];
    float gw[OUT_DIM * IN_DIM], gb[OUT_DIM + 1];
    rt_param params[2];
    rt_adamw opt;
    rt_rng rng;
    int64_t examples_seen; /* the caller's data cursor, carried in extra_json */
} trainer;

static void make_dataset(dataset *d) {
    rt_rng r;
    rt_rng_seed(&r, DATA_SEED);
    float w_true[OUT_DIM][IN_DIM], b_true[OUT_DIM];
    for (int o = 0; o < OUT_DIM; o++) {
        b_true[o] = rt_rng_normal(&r);
        for (int i = 0; i < IN_DIM; i++) w_true[o][i] = rt_rng_normal(&r);
    }
    for (int n = 0; n < N_EXAMPLES; n++) {
        for (int i = 0; i < IN_DIM; i++) d->x[n][i] = rt_rng_normal(&r);
        for (int o = 0; o < OUT_DIM; o++) {
            float acc = b_true[o] + 0.01f * rt_rng_normal(&r);
            for (int i = 0; i < IN_DIM; i++) acc += w_true[o][i] * d->x[n][i];
            d->y[n][o] = acc;
        }
    }
}

/* Sets up parameters (initialised from `init_seed`) and an optimizer; names as a model would give. */
static void trainer_init(trainer *t, uint64_t init_seed, const char *bias_name, size_t bias_numel) {
    memset(t, 0, sizeof(*t));
    rt_rng r;
    rt_rng_seed(&r, init_seed);
    for (int i = 0; i < OUT_DIM * IN_DIM; i++) t->w[i] = 0.1f * rt_rng_normal(&r);
    t->params[0] = (rt_param){.name = "linear.weight", .data = t->w, .grad = t->gw, .numel = OUT_DIM * IN_DIM, .decay = 1};
    t->params[1] = (rt_param){.name = bias_name, .data = t->b, .grad = t->gb, .numel = bias_numel, .decay = 0};
    rt_adamw_params hp = rt_adamw_params_default();
    hp.lr = 0.2f;
    hp.weight_decay = 0.1f;
    assert_int_equal(rt_adamw_init(&t->opt, t->params, 2, hp), RT_OK);
    rt_rng_seed(&t->rng, TRAIN_SEED);
}

static const rt_lr_schedule schedule = {
    .lr = 0.2f, .total_steps = TOTAL_STEPS, .warmup_frac = 0.1f, .decay = RT_DECAY_COSINE, .min_lr_ratio = 0.1f};

/* Adds (1/ACCUM_STEPS) * d(mean squared error)/d(params) of one micro-batch; returns its loss. */
static float micro_batch(trainer *t, const dataset *d) {
    float loss = 0;
    const float scale = 1.0f / (MICRO_BATCH * ACCUM_STEPS);
    for (int k = 0; k < MICRO_BATCH; k++) {
        int n = (int)rt_rng_below(&t->rng, N_EXAMPLES);
        t->examples_seen++;
        for (int o = 0; o < OUT_DIM; o++) {
            float pred = t->b[o];
            for (int i = 0; i < IN_DIM; i++) pred += t->w[o * IN_DIM + i] * d->x[n][i];
            float err = pred - d->y[n][o];
            loss += err * err / MICRO_BATCH;
            t->gb[o] += 2.0f * err * scale;
            for (int i = 0; i < IN_DIM; i++) t->gw[o * IN_DIM + i] += 2.0f * err * d->x[n][i] * scale;
        }
    }
    return loss;
}

static float train_until(trainer *t, const dataset *d, int64_t until) {
    float loss = 0;
    while (t->opt.step < until) {
        rt_params_zero_grad(t->params, 2);
        loss = 0;
        for (int a = 0; a < ACCUM_STEPS; a++) loss += micro_batch(t, d) / ACCUM_STEPS;
        rt_params_clip_grad_norm(t->params, 2, 1.0f);
        rt_adamw_step(&t->opt, rt_lr_at(&schedule, t->opt.step));
    }
    return loss;
}

static void temp_path(char *out, const char *name) {
    static char dir[64];
    if (!dir[0]) {
        strcpy(dir, "/tmp/rt_ckpt_XXXXXX");
        assert_non_null(mkdtemp(dir));
    }
    snprintf(out, MAX_PATH, "%s/%s", dir, name);
}

static void save_checkpoint(trainer *t, const char *path) {
    char extra[64];
    snprintf(extra, sizeof extra, "{\"examples_seen\":%lld}", (long long)t->examples_seen);
    assert_int_equal(rt_checkpoint_save(path, &t->opt, &t->rng, extra), RT_OK);
}

static void test_resume_is_bit_identical(void **state) {
    (void)state;
    dataset d;
    make_dataset(&d);

    trainer full;
    trainer_init(&full, 1, "linear.bias", OUT_DIM);
    float first_loss = 0;
    {
        /* The loss at the start, to show training really learns. */
        trainer probe;
        trainer_init(&probe, 1, "linear.bias", OUT_DIM);
        first_loss = train_until(&probe, &d, 1);
        rt_adamw_free(&probe.opt);
    }
    float last_loss = train_until(&full, &d, TOTAL_STEPS);
    print_message("toy least squares: loss %.4f at step 1, %.4f at step %d\n", first_loss, last_loss, TOTAL_STEPS);
    assert_true(last_loss < 0.2f * first_loss);

    char path[MAX_PATH];
    temp_path(path, "resume.safetensors");
    trainer part;
    trainer_init(&part, 1, "linear.bias", OUT_DIM);
    train_until(&part, &d, RESUME_AT);
    save_checkpoint(&part, path);
    rt_adamw_free(&part.opt);

    /* Fresh objects that differ in every piece of state the checkpoint must restore. */
    trainer resumed;
    trainer_init(&resumed, 99, "linear.bias", OUT_DIM);
    rt_rng_seed(&resumed.rng, 12345);
    resumed.opt.p.lr = 123.0f;
    char *extra = NULL;
    assert_int_equal(rt_checkpoint_load(path, &resumed.opt, &resumed.rng, &extra), RT_OK);
    assert_int_equal(resumed.opt.step, RESUME_AT);
    assert_true(resumed.opt.p.lr == 0.2f);
    assert_non_null(extra);
    json_t *cursor = json_loads(extra, 0, NULL);
    assert_non_null(cursor);
    resumed.examples_seen = json_integer_value(json_object_get(cursor, "examples_seen"));
    assert_int_equal(resumed.examples_seen, RESUME_AT * ACCUM_STEPS * MICRO_BATCH);
    json_decref(cursor);
    free(extra);
    train_until(&resumed, &d, TOTAL_STEPS);

    assert_int_equal(resumed.examples_seen, full.examples_seen);
    assert_true(memcmp(resumed.w, full.w, sizeof full.w) == 0);
    assert_true(memcmp(resumed.b, full.b, sizeof full.b) == 0);
    for (int i = 0; i < 2; i++) {
        size_t bytes = full.params[i].numel * sizeof(float);
        assert_true(memcmp(resumed.opt.m[i], full.opt.m[i], bytes) == 0);
        assert_true(memcmp(resumed.opt.v[i], full.opt.v[i], bytes) == 0);
    }
    assert_true(memcmp(&resumed.rng, &full.rng, sizeof full.rng) == 0);
    rt_adamw_free(&resumed.opt);
    rt_adamw_free(&full.opt);
    unlink(path);
}

/* ---- damaged and mismatched checkpoints ---- */

/* Everything a failed load must leave alone. */
typedef struct {
    float w[OUT_DIM * IN_DIM], b[OUT_DIM + 1], m0[OUT_DIM * IN_DIM], v0[OUT_DIM * IN_DIM];
    int64_t step;
    rt_rng rng;
} snapshot;

static void take_snapshot(const trainer *t, snapshot *s) {
    memset(s, 0, sizeof(*s));
    memcpy(s->w, t->w, sizeof t->w);
    memcpy(s->b, t->b, t->params[1].numel * sizeof(float));
    memcpy(s->m0, t->opt.m[0], sizeof s->m0);
    memcpy(s->v0, t->opt.v[0], sizeof s->v0);
    s->step = t->opt.step;
    s->rng = t->rng;
}

/* Loads `path` into a trainer that has taken a few steps of its own, expects `code` (any error when
 * ANY_ERROR) with a message naming the file and containing `needle`, and checks nothing changed. */
#define ANY_ERROR ((rt_status)-1)
static void expect_load_error(const char *path, const char *bias_name, size_t bias_numel, rt_status code,
                              const char *needle) {
    dataset d;
    make_dataset(&d);
    trainer t;
    trainer_init(&t, 3, bias_name, bias_numel);
    train_until(&t, &d, 3);
    snapshot before, after;
    take_snapshot(&t, &before);
    char *extra = (char *)"sentinel";
    rt_status s = rt_checkpoint_load(path, &t.opt, &t.rng, &extra);
    if (code == ANY_ERROR ? s == RT_OK : s != code) fail_msg("loading %s: got %s (%s), want %s", path, rt_status_name(s), rt_errmsg(), rt_status_name(code));
    assert_null(extra);
    const char *msg = rt_errmsg();
    if (!strstr(msg, path) || !strstr(msg, needle)) fail_msg("message '%s' lacks '%s' or '%s'", msg, path, needle);
    assert_null(strchr(msg, '\n'));
    print_message("  expected error: %s\n", msg);
    take_snapshot(&t, &after);
    assert_true(memcmp(&before, &after, sizeof before) == 0);
    rt_adamw_free(&t.opt);
}

/* Saves a checkpoint of a few steps of the toy problem and returns its bytes. */
static char *good_checkpoint(const char *path, size_t *len) {
    dataset d;
    make_dataset(&d);
    trainer t;
    trainer_init(&t, 1, "linear.bias", OUT_DIM);
    train_until(&t, &d, 5);
    save_checkpoint(&t, path);
    rt_adamw_free(&t.opt);
    char *bytes;
    assert_int_equal(rt_file_read(path, &bytes, len), RT_OK);
    return bytes;
}

/* The byte offset in the file of tensor `name`'s first data byte, from the header. */
static size_t data_offset(const char *bytes, const char *name) {
    uint64_t header_len;
    memcpy(&header_len, bytes, 8);
    json_t *h = json_loadb(bytes + 8, header_len, 0, NULL);
    assert_non_null(h);
    json_t *offsets = json_object_get(json_object_get(h, name), "data_offsets");
    assert_non_null(offsets);
    size_t at = 8 + header_len + (size_t)json_integer_value(json_array_get(offsets, 0));
    json_decref(h);
    return at;
}

static void test_truncated_checkpoint(void **state) {
    (void)state;
    char good[MAX_PATH], bad[MAX_PATH];
    temp_path(good, "good.safetensors");
    temp_path(bad, "truncated.safetensors");
    size_t len;
    char *bytes = good_checkpoint(good, &len);
    /* Cut inside the data, then inside the header, then inside the length prefix. */
    size_t cuts[3] = {len - 7, 40, 5};
    for (int c = 0; c < 3; c++) {
        assert_int_equal(rt_file_write_atomic(bad, bytes, cuts[c]), RT_OK);
        /* The wording is the safetensors reader's; what matters here is the code, the file name, and
         * that nothing was touched. */
        expect_load_error(bad, "linear.bias", OUT_DIM, RT_ERR_FORMAT, "");
    }
    free(bytes);
    unlink(good);
    unlink(bad);
}

static void test_corrupt_data_names_tensor(void **state) {
    (void)state;
    char good[MAX_PATH], bad[MAX_PATH];
    temp_path(good, "good2.safetensors");
    temp_path(bad, "corrupt.safetensors");
    size_t len;
    char *bytes = good_checkpoint(good, &len);
    /* One flipped bit inside adam_v.linear.weight: the header stays valid, only the checksum can tell. */
    bytes[data_offset(bytes, "adam_v.linear.weight") + 13] ^= 0x10;
    assert_int_equal(rt_file_write_atomic(bad, bytes, len), RT_OK);
    expect_load_error(bad, "linear.bias", OUT_DIM, RT_ERR_FORMAT, "tensor 'adam_v.linear.weight' is corrupt");
    /* A header whose length field lies is caught by the reader, still naming the file. */
    memset(bytes, 0x7f, 8);
    assert_int_equal(rt_file_write_atomic(bad, bytes, len), RT_OK);
    expect_load_error(bad, "linear.bias", OUT_DIM, RT_ERR_FORMAT, "");
    free(bytes);
    unlink(good);
    unlink(bad);
}

static void test_mismatched_model(void **state) {
    (void)state;
    char path[MAX_PATH];
    temp_path(path, "mismatch.safetensors");
    size_t len;
    free(good_checkpoint(path, &len));
    /* A renamed parameter: its tensor is missing from the file. */
    expect_load_error(path, "linear.b", OUT_DIM, RT_ERR_NOT_FOUND, "tensor 'param.linear.b' is missing");
    /* The same name with another size. */
    expect_load_error(path, "linear.bias", OUT_DIM + 1, RT_ERR_SHAPE, "tensor 'param.linear.bias' has shape [3], expected [4]");
    unlink(path);
}

/* A file with tensors no parameter claims: a model that lost a layer must not resume silently. */
static void test_unclaimed_tensor(void **state) {
    (void)state;
    char path[MAX_PATH];
    temp_path(path, "unclaimed.safetensors");
    dataset d;
    make_dataset(&d);
    trainer t;
    trainer_init(&t, 1, "linear.bias", OUT_DIM);
    train_until(&t, &d, 2);
    assert_int_equal(rt_checkpoint_save(path, &t.opt, &t.rng, NULL), RT_OK);
    /* Reload into an optimizer over the weight only. */
    rt_adamw only_w;
    assert_int_equal(rt_adamw_init(&only_w, t.params, 1, t.opt.p), RT_OK);
    float w_before[OUT_DIM * IN_DIM];
    memcpy(w_before, t.w, sizeof w_before);
    assert_int_equal(rt_checkpoint_load(path, &only_w, NULL, NULL), RT_ERR_NOT_FOUND);
    assert_non_null(strstr(rt_errmsg(), path));
    assert_non_null(strstr(rt_errmsg(), "linear.bias' matches no parameter"));
    assert_int_equal(only_w.step, 0);
    rt_adamw_free(&only_w);
    /* No extra_json saved: load hands back NULL. */
    char *extra = (char *)"sentinel";
    assert_int_equal(rt_checkpoint_load(path, &t.opt, &t.rng, &extra), RT_OK);
    assert_null(extra);
    rt_adamw_free(&t.opt);
    unlink(path);
}

static void test_not_a_checkpoint(void **state) {
    (void)state;
    char path[MAX_PATH];
    temp_path(path, "model.safetensors");
    rt_st_writer *w = rt_st_writer_new();
    float x[3] = {1, 2, 3};
    int64_t shape[1] = {3};
    assert_int_equal(rt_st_writer_add_f32(w, "param.linear.bias", RT_DTYPE_F32, 1, shape, x), RT_OK);
    assert_int_equal(rt_st_writer_save(w, path), RT_OK);
    rt_st_writer_free(w);
    expect_load_error(path, "linear.bias", OUT_DIM, RT_ERR_FORMAT, "not a retrace checkpoint");
    unlink(path);
    expect_load_error(path, "linear.bias", OUT_DIM, ANY_ERROR, "");
}

/* Rewrites the checkpoint at `src` into `dst` with metadata `key` set to `value` (NULL: dropped) and,
 * when `f16_tensor` is set, that tensor stored as F16. */
static void rewrite_checkpoint(const char *src, const char *dst, const char *key, const char *value,
                               const char *f16_tensor) {
    static const char *const keys[] = {"format", "version", "step", "rng", "extra", "adamw", "checksums"};
    rt_st_file *f = NULL;
    assert_int_equal(rt_st_open(src, &f), RT_OK);
    rt_st_writer *w = rt_st_writer_new();
    for (int i = 0; i < rt_st_count(f); i++) {
        const rt_st_tensor *t = rt_st_at(f, i);
        if (f16_tensor && strcmp(t->name, f16_tensor) == 0) {
            float *tmp = malloc((size_t)t->numel * sizeof(float));
            memcpy(tmp, t->data, t->nbytes);
            assert_int_equal(rt_st_writer_add_f32(w, t->name, RT_DTYPE_F16, t->ndim, t->shape, tmp), RT_OK);
            free(tmp);
        } else {
            assert_int_equal(rt_st_writer_add_raw(w, t->name, t->dtype, t->ndim, t->shape, t->data), RT_OK);
        }
    }
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        const char *v = strcmp(keys[k], key) == 0 ? value : rt_st_metadata(f, keys[k]);
        if (v) assert_int_equal(rt_st_writer_set_metadata(w, keys[k], v), RT_OK);
    }
    assert_int_equal(rt_st_writer_save(w, dst), RT_OK);
    rt_st_writer_free(w);
    rt_st_close(f);
}

/* Every metadata field a load relies on, malformed one at a time: each is a one-line error naming the
 * file and the field, and leaves the run untouched. */
static void test_bad_metadata(void **state) {
    (void)state;
    char good[MAX_PATH], bad[MAX_PATH];
    temp_path(good, "good3.safetensors");
    temp_path(bad, "badmeta.safetensors");
    size_t len;
    free(good_checkpoint(good, &len));
    static const struct {
        const char *key, *value, *f16_tensor;
        rt_status code;
        const char *needle;
    } cases[] = {
        {"version", "2", NULL, RT_ERR_UNSUPPORTED, "checkpoint version '2' is not supported"},
        {"version", NULL, NULL, RT_ERR_FORMAT, "metadata 'version' is missing"},
        {"step", "-1", NULL, RT_ERR_FORMAT, "metadata 'step' must be a non-negative decimal integer"},
        {"step", "12x", NULL, RT_ERR_FORMAT, "metadata 'step' must be a non-negative decimal integer"},
        {"step", NULL, NULL, RT_ERR_FORMAT, "metadata 'step' is missing"},
        {"rng", "0000000000000001,0000000000000002,0000000000000003", NULL, RT_ERR_FORMAT, "metadata 'rng'"},
        {"rng", "zz", NULL, RT_ERR_FORMAT, "metadata 'rng'"},
        {"rng", NULL, NULL, RT_ERR_FORMAT, "metadata 'rng' is missing"},
        {"adamw", "{", NULL, RT_ERR_FORMAT, "metadata 'adamw' is not a JSON object"},
        {"adamw", "{\"lr\": 0.1}", NULL, RT_ERR_FORMAT, "metadata 'adamw': missing key 'beta1'"},
        {"adamw", "{\"lr\": 0.1, \"beta1\": 1.5, \"beta2\": 0.9, \"eps\": 0, \"weight_decay\": 0}", NULL,
         RT_ERR_ARG, "metadata 'adamw': adamw: beta1 1.5 must be in [0, 1)"},
        {"checksums", NULL, NULL, RT_ERR_FORMAT, "metadata 'checksums'"},
        {"checksums", "{}", NULL, RT_ERR_FORMAT, "tensor 'param.linear.weight' has no checksum"},
        {"format", "something-else", NULL, RT_ERR_FORMAT, "not a retrace checkpoint"},
        {"version", "9\nlong version string that goes on and on", NULL, RT_ERR_UNSUPPORTED,
         "version '9?long version string that goes ...' is not supported"},
        {"", NULL, "adam_m.linear.bias", RT_ERR_FORMAT, "tensor 'adam_m.linear.bias' is F16, expected F32"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rewrite_checkpoint(good, bad, cases[i].key, cases[i].value, cases[i].f16_tensor);
        expect_load_error(bad, "linear.bias", OUT_DIM, cases[i].code, cases[i].needle);
    }
    unlink(good);
    unlink(bad);
}

/* A save that cannot complete reports the path and leaves no file behind. */
static void test_save_failure(void **state) {
    (void)state;
    trainer t;
    trainer_init(&t, 1, "linear.bias", OUT_DIM);
    const char *path = "/nonexistent-rt-dir/ckpt.safetensors";
    assert_int_not_equal(rt_checkpoint_save(path, &t.opt, &t.rng, NULL), RT_OK);
    assert_non_null(strstr(rt_errmsg(), path));
    assert_true(strncmp(rt_errmsg(), "saving checkpoint: ", 19) == 0);
    assert_false(rt_path_exists(path));
    rt_adamw_free(&t.opt);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resume_is_bit_identical),
        cmocka_unit_test(test_truncated_checkpoint),
        cmocka_unit_test(test_corrupt_data_names_tensor),
        cmocka_unit_test(test_mismatched_model),
        cmocka_unit_test(test_unclaimed_tensor),
        cmocka_unit_test(test_not_a_checkpoint),
        cmocka_unit_test(test_bad_metadata),
        cmocka_unit_test(test_save_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
