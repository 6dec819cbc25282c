/* test_optim.c: AdamW, gradient clipping and learning-rate schedules against PyTorch and transformers.
 *
 * The reference values come from tools/make_optim_fixtures.py (torch.optim.AdamW with
 * clip_grad_norm_ and a warmup+cosine LambdaLR; transformers' schedule functions). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "retrace.h"

#define ADAMW_FIXTURE RT_FIXTURES_DIR "/optim/adamw.safetensors"
#define SCHEDULE_FIXTURE RT_FIXTURES_DIR "/optim/schedules.safetensors"
/* Agreement with PyTorch: relative to the reference value. PyTorch's betas are doubles (0.9) where ours
 * are floats (0.9f), which alone moves results by a few 1e-8. */
#define REL_TOL 1e-6
#define MAX_FIXTURE_PARAMS 8
#define MAX_NAME 32

static double rel_err(float got, float want) {
    double d = fabs((double)got - (double)want);
    double scale = fabs((double)want);
    return scale > 0 ? d / scale : d;
}

/* Compares `n` floats, failing with the worst element; returns the worst error. The error is relative
 * to each element's own value, or with `scaled` to the tensor's largest |value|: used where an element
 * is the small difference of larger terms (a moment whose gradients changed sign), so that one ulp in an
 * input is not magnified into a large elementwise relative error. */
static double compare(const char *what, const float *got, const float *want, size_t n, double tol, int scaled) {
    double scale = 0, worst = 0;
    size_t at = 0;
    for (size_t i = 0; scaled && i < n; i++) scale = fabs((double)want[i]) > scale ? fabs((double)want[i]) : scale;
    for (size_t i = 0; i < n; i++) {
        double e = scaled ? fabs((double)got[i] - (double)want[i]) / scale : rel_err(got[i], want[i]);
        if (e > worst || isnan(e)) {
            worst = isnan(e) ? INFINITY : e;
            at = i;
        }
    }
    if (worst > tol) fail_msg("%s[%zu]: got %.9g, want %.9g (error %.3g > %.3g)", what, at, got[at], want[at], worst, tol);
    return worst;
}

static double assert_close(const char *what, const float *got, const float *want, size_t n, double tol) {
    return compare(what, got, want, n, tol, 0);
}

typedef struct {
    int n;
    char names[MAX_FIXTURE_PARAMS][MAX_NAME];
    int decay[MAX_FIXTURE_PARAMS];
    rt_param params[MAX_FIXTURE_PARAMS];
} fixture_params;

/* Splits the comma-separated metadata lists "params" and "decay" and allocates buffers of each size. */
static void load_fixture_params(const rt_st_file *f, fixture_params *fp) {
    const char *names = rt_st_metadata(f, "params"), *decay = rt_st_metadata(f, "decay");
    assert_non_null(names);
    assert_non_null(decay);
    memset(fp, 0, sizeof(*fp));
    for (const char *p = names; *p;) {
        assert_true(fp->n < MAX_FIXTURE_PARAMS);
        size_t len = strcspn(p, ",");
        assert_true(len < MAX_NAME);
        memcpy(fp->names[fp->n], p, len);
        fp->decay[fp->n] = decay[2 * fp->n] == '1';
        char key[64];
        snprintf(key, sizeof key, "init.%s", fp->names[fp->n]);
        const rt_st_tensor *t = rt_st_find(f, key);
        assert_non_null(t);
        rt_param *q = &fp->params[fp->n];
        q->name = fp->names[fp->n];
        q->numel = (size_t)t->numel;
        q->data = rt_alloc_floats(q->numel);
        q->grad = rt_alloc_floats(q->numel);
        q->decay = fp->decay[fp->n];
        assert_int_equal(rt_st_read_f32(f, key, q->data, t->ndim, t->shape), RT_OK);
        fp->n++;
        p += len;
        if (*p == ',') p++;
    }
}

static void free_fixture_params(fixture_params *fp) {
    for (int i = 0; i < fp->n; i++) {
        rt_free_aligned(fp->params[i].data);
        rt_free_aligned(fp->params[i].grad);
    }
}

static void read_named(const rt_st_file *f, const char *fmt, const char *name, float *dst) {
    char key[64];
    snprintf(key, sizeof key, fmt, name);
    const rt_st_tensor *t = rt_st_find(f, key);
    if (!t) fail_msg("fixture tensor %s missing", key);
    assert_int_equal(rt_st_read_f32(f, key, dst, t->ndim, t->shape), RT_OK);
}

static double meta_double(const rt_st_file *f, const char *key) {
    const char *s = rt_st_metadata(f, key);
    if (!s) fail_msg("fixture metadata %s missing", key);
    return strtod(s, NULL);
}

typedef struct {
    rt_st_file *f;
    fixture_params fp;
    int steps;
    float *lrs, *norms;
    rt_adamw_params hp;
    float max_norm;
    rt_lr_schedule sched; /* the schedule that produced the fixture's lrs */
} adamw_fixture;

static void adamw_fixture_open(adamw_fixture *x) {
    memset(x, 0, sizeof(*x));
    assert_int_equal(rt_st_open(ADAMW_FIXTURE, &x->f), RT_OK);
    load_fixture_params(x->f, &x->fp);
    x->steps = (int)meta_double(x->f, "steps");
    x->lrs = malloc((size_t)x->steps * sizeof(float));
    x->norms = malloc((size_t)x->steps * sizeof(float));
    int64_t shape[1] = {x->steps};
    assert_int_equal(rt_st_read_f32(x->f, "lr", x->lrs, 1, shape), RT_OK);
    assert_int_equal(rt_st_read_f32(x->f, "norm", x->norms, 1, shape), RT_OK);
    x->hp = rt_adamw_params_default();
    x->hp.lr = (float)meta_double(x->f, "lr");
    x->hp.weight_decay = (float)meta_double(x->f, "weight_decay");
    x->max_norm = (float)meta_double(x->f, "max_norm");
    x->sched = (rt_lr_schedule){.lr = x->hp.lr, .total_steps = x->steps,
                                .warmup_frac = (float)meta_double(x->f, "warmup_steps") / (float)x->steps,
                                .decay = RT_DECAY_COSINE, .min_lr_ratio = 0.0f};
}

static void adamw_fixture_close(adamw_fixture *x) {
    free_fixture_params(&x->fp);
    free(x->lrs);
    free(x->norms);
    rt_st_close(x->f);
}

/* Reads tensor "<prefix>.<step>.<name>" of every parameter into its grad buffer. */
static void read_grads(adamw_fixture *x, const char *prefix, int step) {
    for (int i = 0; i < x->fp.n; i++) {
        char fmt[48];
        snprintf(fmt, sizeof fmt, "%s.%d.%%s", prefix, step);
        read_named(x->f, fmt, x->fp.names[i], x->fp.params[i].grad);
    }
}

/* Compares the final parameters and moments; moments against their scale when `scaled`. */
/* Compares the final parameters and moments (moments against their scale when `scaled`) and reports
 * the worst error and how many values are bit-identical to PyTorch's. */
static void check_final(adamw_fixture *x, const rt_adamw *opt, int scaled, const char *label) {
    double worst = 0;
    size_t same = 0, total = 0;
    for (int i = 0; i < x->fp.n; i++) {
        size_t n = x->fp.params[i].numel;
        float *want = rt_alloc_floats(n);
        const float *got[3] = {x->fp.params[i].data, opt->m[i], opt->v[i]};
        const char *fmt[3] = {"final.%s", "final_m.%s", "final_v.%s"}, *what[3] = {"param", "exp_avg", "exp_avg_sq"};
        for (int k = 0; k < 3; k++) {
            read_named(x->f, fmt[k], x->fp.names[i], want);
            double e = compare(what[k], got[k], want, n, REL_TOL, k > 0 && scaled);
            worst = e > worst ? e : worst;
            for (size_t j = 0; j < n; j++) same += memcmp(&got[k][j], &want[j], sizeof(float)) == 0;
            total += n;
        }
        /* The run must have moved the parameters, or matching would prove nothing. */
        read_named(x->f, "init.%s", x->fp.names[i], want);
        double moved = 0;
        for (size_t j = 0; j < n; j++) moved += fabs((double)x->fp.params[i].data[j] - want[j]);
        assert_true(moved / (double)n > 1e-3);
        rt_free_aligned(want);
    }
    print_message("%s vs torch: worst error %.3g, %zu of %zu values bit-identical\n", label, worst, same, total);
}

/* AdamW alone: fed PyTorch's clipped gradients and learning rates, every element of the parameters and
 * both moments agrees within REL_TOL of its own value. */
static void test_adamw_matches_torch(void **state) {
    (void)state;
    adamw_fixture x;
    adamw_fixture_open(&x);
    rt_adamw opt;
    assert_int_equal(rt_adamw_init(&opt, x.fp.params, x.fp.n, x.hp), RT_OK);
    for (int k = 0; k < x.steps; k++) {
        read_grads(&x, "clipped", k);
        rt_adamw_step(&opt, x.lrs[k]);
    }
    assert_int_equal(opt.step, x.steps);
    check_final(&x, &opt, 0, "adamw (elementwise relative)");
    rt_adamw_free(&opt);
    adamw_fixture_close(&x);
}

/* clip_grad_norm_ alone: the norm and every clipped gradient within REL_TOL. */
static void test_clip_matches_torch(void **state) {
    (void)state;
    adamw_fixture x;
    adamw_fixture_open(&x);
    int clipped = 0;
    for (int k = 0; k < x.steps; k++) {
        read_grads(&x, "grad", k);
        float norm = rt_params_clip_grad_norm(x.fp.params, x.fp.n, x.max_norm);
        assert_close("norm", &norm, &x.norms[k], 1, REL_TOL);
        clipped += norm > x.max_norm;
        for (int i = 0; i < x.fp.n; i++) {
            float *want = rt_alloc_floats(x.fp.params[i].numel);
            char fmt[48];
            snprintf(fmt, sizeof fmt, "clipped.%d.%%s", k);
            read_named(x.f, fmt, x.fp.names[i], want);
            assert_close("clipped grad", x.fp.params[i].grad, want, x.fp.params[i].numel, REL_TOL);
            rt_free_aligned(want);
        }
    }
    /* The fixture exercises both branches. */
    assert_true(clipped > 0 && clipped < x.steps);
    adamw_fixture_close(&x);
}

/* The whole step as a trainer runs it: our schedule, our clipping, our AdamW. The norm is summed in
 * double where PyTorch sums in float (one ulp apart), and a moment that is a small difference of
 * larger gradients magnifies that ulp, so moments are compared against their tensor's scale. */
static void test_training_steps_match_torch(void **state) {
    (void)state;
    adamw_fixture x;
    adamw_fixture_open(&x);
    rt_adamw opt;
    assert_int_equal(rt_adamw_init(&opt, x.fp.params, x.fp.n, x.hp), RT_OK);
    for (int k = 0; k < x.steps; k++) {
        rt_params_zero_grad(x.fp.params, x.fp.n);
        read_grads(&x, "grad", k);
        rt_params_clip_grad_norm(x.fp.params, x.fp.n, x.max_norm);
        float lr = rt_lr_at(&x.sched, opt.step);
        assert_close("lr", &lr, &x.lrs[k], 1, REL_TOL);
        rt_adamw_step(&opt, lr);
    }
    check_final(&x, &opt, 1, "clip+schedule+adamw (moments against their scale)");
    rt_adamw_free(&opt);
    adamw_fixture_close(&x);
}

static rt_decay_kind kind_from(const char *s) {
    if (strcmp(s, "linear") == 0) return RT_DECAY_LINEAR;
    if (strcmp(s, "cosine") == 0) return RT_DECAY_COSINE;
    assert_string_equal(s, "constant");
    return RT_DECAY_CONSTANT;
}

static void test_schedules_match_transformers(void **state) {
    (void)state;
    rt_st_file *f = NULL;
    assert_int_equal(rt_st_open(SCHEDULE_FIXTURE, &f), RT_OK);
    json_t *cases = json_loads(rt_st_metadata(f, "cases"), 0, NULL);
    assert_true(json_is_array(cases) && json_array_size(cases) > 0);
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c) {
        const char *name = json_string_value(json_object_get(c, "name"));
        rt_lr_schedule s = {
            .lr = (float)json_number_value(json_object_get(c, "lr")),
            .total_steps = json_integer_value(json_object_get(c, "total_steps")),
            .warmup_frac = (float)json_number_value(json_object_get(c, "warmup_frac")),
            .decay = kind_from(json_string_value(json_object_get(c, "kind"))),
            .min_lr_ratio = (float)json_number_value(json_object_get(c, "min_lr_ratio")),
        };
        assert_int_equal(rt_lr_warmup_steps(&s), json_integer_value(json_object_get(c, "warmup_steps")));
        int64_t n = s.total_steps + 1;
        float *want = malloc((size_t)n * sizeof(float)), *got = malloc((size_t)n * sizeof(float));
        char key[64];
        snprintf(key, sizeof key, "lr.%s", name);
        assert_int_equal(rt_st_read_f32(f, key, want, 1, &n), RT_OK);
        for (int64_t k = 0; k < n; k++) got[k] = rt_lr_at(&s, k);
        assert_close(name, got, want, (size_t)n, REL_TOL);
        free(want);
        free(got);
    }
    json_decref(cases);
    rt_st_close(f);
}

/* transformers has no linear schedule with a floor; ours applies the same factor * (1 - r) + r as its
 * cosine one, so check that shape: a linear ramp up, then a straight line from lr down to r * lr. */
static void test_linear_floor(void **state) {
    (void)state;
    rt_lr_schedule s = {.lr = 1e-3f, .total_steps = 50, .warmup_frac = 0.2f, .decay = RT_DECAY_LINEAR, .min_lr_ratio = 0.25f};
    assert_int_equal(rt_lr_warmup_steps(&s), 10);
    float at_warmup = rt_lr_at(&s, 10), at_end = rt_lr_at(&s, 50), mid = rt_lr_at(&s, 30);
    assert_true(rt_lr_at(&s, 0) == 0.0f);
    assert_close("warmup", &(float){rt_lr_at(&s, 5)}, &(float){0.5e-3f}, 1, REL_TOL);
    assert_close("peak", &at_warmup, &(float){1e-3f}, 1, REL_TOL);
    assert_close("floor", &at_end, &(float){0.25e-3f}, 1, REL_TOL);
    assert_close("middle", &mid, &(float){0.625e-3f}, 1, REL_TOL);
    for (int64_t k = 11; k <= 50; k++) assert_true(rt_lr_at(&s, k) < rt_lr_at(&s, k - 1));
    /* Past the end the linear factor stays at 0, so the floor holds. */
    assert_close("past end", &(float){rt_lr_at(&s, 80)}, &(float){0.25e-3f}, 1, REL_TOL);
    /* Constant: the warmup, then the peak for ever; min_lr_ratio does not apply. */
    s.decay = RT_DECAY_CONSTANT;
    assert_true(rt_lr_at(&s, 10) == 1e-3f && rt_lr_at(&s, 500) == 1e-3f);
}

/* Clipping: a norm below max_norm leaves gradients alone, one above scales them to max_norm. */
static void test_clip_grad_norm(void **state) {
    (void)state;
    float g1[3] = {3, 0, 4}, g2[1] = {12}, d[4] = {0};
    rt_param p[2] = {{.name = "a", .data = d, .grad = g1, .numel = 3}, {.name = "b", .data = d, .grad = g2, .numel = 1}};
    assert_true(rt_params_clip_grad_norm(p, 2, 100.0f) == 13.0f);
    assert_true(g1[0] == 3.0f && g2[0] == 12.0f);
    assert_true(rt_params_clip_grad_norm(p, 2, 0.0f) == 13.0f); /* 0: measure only */
    assert_true(g2[0] == 12.0f);
    assert_true(rt_params_clip_grad_norm(p, 2, 1.0f) == 13.0f);
    float coef = 1.0f / (13.0f + 1e-6f);
    assert_true(g1[0] == 3.0f * coef && g1[2] == 4.0f * coef && g2[0] == 12.0f * coef);
    rt_params_zero_grad(p, 2);
    assert_true(g1[0] == 0 && g1[2] == 0 && g2[0] == 0);
    assert_true(rt_params_clip_grad_norm(p, 2, 1.0f) == 0.0f);
}

/* The update and the norm must not depend on the thread count, so a run resumed elsewhere continues
 * bit for bit. A buffer this large takes the parallel paths. */
static void test_thread_count_invariance(void **state) {
    (void)state;
    const size_t n = 300000;
    float *data[2], *grad[2];
    float norms[2];
    rt_rng rng;
    for (int run = 0; run < 2; run++) {
        rt_set_threads(run == 0 ? 1 : 3);
        rt_rng_seed(&rng, 7);
        data[run] = rt_alloc_floats(n);
        grad[run] = rt_alloc_floats(n);
        for (size_t i = 0; i < n; i++) data[run][i] = rt_rng_normal(&rng);
        rt_param p = {.name = "big", .data = data[run], .grad = grad[run], .numel = n, .decay = 1};
        rt_adamw opt;
        assert_int_equal(rt_adamw_init(&opt, &p, 1, rt_adamw_params_default()), RT_OK);
        for (int step = 0; step < 3; step++) {
            for (size_t i = 0; i < n; i++) grad[run][i] = rt_rng_normal(&rng);
            norms[run] = rt_params_clip_grad_norm(&p, 1, 1.0f);
            rt_adamw_step(&opt, 1e-3f);
        }
        rt_adamw_free(&opt);
    }
    assert_true(memcmp(&norms[0], &norms[1], sizeof(float)) == 0);
    assert_true(memcmp(data[0], data[1], n * sizeof(float)) == 0);
    for (int run = 0; run < 2; run++) {
        rt_free_aligned(data[run]);
        rt_free_aligned(grad[run]);
    }
    rt_set_threads(2);
}

static void test_init_rejects_bad_input(void **state) {
    (void)state;
    float d[2] = {0}, g[2] = {0};
    rt_param p[2] = {{.name = "x", .data = d, .grad = g, .numel = 2}, {.name = "x", .data = d, .grad = g, .numel = 2}};
    rt_adamw opt;
    assert_int_equal(rt_adamw_init(&opt, p, 2, rt_adamw_params_default()), RT_ERR_ARG);
    assert_non_null(strstr(rt_errmsg(), "'x' is used twice"));
    rt_adamw_params hp = rt_adamw_params_default();
    hp.beta2 = 1.0f;
    assert_int_equal(rt_adamw_init(&opt, p, 1, hp), RT_ERR_ARG);
    assert_non_null(strstr(rt_errmsg(), "beta2"));
    p[0].grad = NULL;
    assert_int_equal(rt_adamw_init(&opt, p, 1, rt_adamw_params_default()), RT_ERR_ARG);
    assert_non_null(strstr(rt_errmsg(), "'x' has no grad"));
    assert_null(opt.m);
}

/* Weight decay touches only parameters marked for it: with zero gradients, Adam's update is zero and
 * the decayed parameter shrinks by exactly (1 - lr * wd). */
static void test_decay_flag(void **state) {
    (void)state;
    float a[1] = {2.0f}, b[1] = {2.0f}, ga[1] = {0}, gb[1] = {0};
    rt_param p[2] = {{.name = "w", .data = a, .grad = ga, .numel = 1, .decay = 1},
                     {.name = "norm", .data = b, .grad = gb, .numel = 1, .decay = 0}};
    rt_adamw_params hp = rt_adamw_params_default();
    hp.weight_decay = 0.5f;
    rt_adamw opt;
    assert_int_equal(rt_adamw_init(&opt, p, 2, hp), RT_OK);
    rt_adamw_step(&opt, 0.1f);
    assert_true(a[0] == 2.0f * (float)(1.0 - (double)0.1f * 0.5));
    assert_true(b[0] == 2.0f);
    rt_adamw_free(&opt);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_adamw_matches_torch),
        cmocka_unit_test(test_clip_matches_torch),
        cmocka_unit_test(test_training_steps_match_torch),
        cmocka_unit_test(test_schedules_match_transformers),
        cmocka_unit_test(test_linear_floor),
        cmocka_unit_test(test_clip_grad_norm),
        cmocka_unit_test(test_thread_count_invariance),
        cmocka_unit_test(test_init_rejects_bad_input),
        cmocka_unit_test(test_decay_flag),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
