/* test_tensor.c: the fast kernels against the naive reference kernels, and every backward pass against
 * central finite differences of its forward pass (float64 accumulation of the probe loss). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "retrace.h"
#include "retrace/tensor.h"

#define FD_EPS 1e-2f
#define FD_REL_TOL 2e-2

static float *randn(rt_rng *r, size_t n, float scale) {
    float *x = malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++) x[i] = scale * rt_rng_normal(r);
    return x;
}

static double max_diff(const float *a, const float *b, size_t n) {
    double d = 0;
    for (size_t i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - b[i]));
    return d;
}

static double dot(const float *a, const float *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* Checks an analytic gradient g of the probe loss L(x) = <f(x), w> by finite differences on a few
 * coordinates of x. eval(ctx) recomputes L with the current x. */
static void check_fd(float *x, const float *g, size_t n, double (*eval)(void *), void *ctx, const char *what) {
    for (size_t k = 0; k < 12; k++) {
        size_t i = (k * 7919u) % n;
        float old = x[i];
        x[i] = old + FD_EPS;
        double lp = eval(ctx);
        x[i] = old - FD_EPS;
        double lm = eval(ctx);
        x[i] = old;
        double num = (lp - lm) / (2.0 * FD_EPS);
        double tol = FD_REL_TOL * fmax(1.0, fabs(num));
        if (fabs(num - g[i]) > tol) fail_msg("%s: d/dx[%zu] analytic %g, numeric %g", what, i, g[i], num);
    }
}

static void test_matmul_fast_vs_ref(void **state) {
    (void)state;
    rt_rng r;
    rt_rng_seed(&r, 1);
    int N = 37, C = 53, OC = 29;
    float *x = randn(&r, (size_t)N * C, 1), *w = randn(&r, (size_t)OC * C, 1), *b = randn(&r, OC, 1);
    float *y1 = calloc((size_t)N * OC, 4), *y2 = calloc((size_t)N * OC, 4), *dy = randn(&r, (size_t)N * OC, 1);
    rt_matmul_forward(y1, x, w, b, N, C, OC, 0);
    rt_matmul_forward_ref(y2, x, w, b, N, C, OC, 0);
    assert_true(max_diff(y1, y2, (size_t)N * OC) < 1e-4);
    float *dx1 = calloc((size_t)N * C, 4), *dx2 = calloc((size_t)N * C, 4);
    float *dw1 = calloc((size_t)OC * C, 4), *dw2 = calloc((size_t)OC * C, 4);
    float *db1 = calloc(OC, 4), *db2 = calloc(OC, 4);
    rt_matmul_backward(dx1, dw1, db1, dy, x, w, N, C, OC);
    rt_matmul_backward_ref(dx2, dw2, db2, dy, x, w, N, C, OC);
    assert_true(max_diff(dx1, dx2, (size_t)N * C) < 1e-3);
    assert_true(max_diff(dw1, dw2, (size_t)OC * C) < 1e-3);
    assert_true(max_diff(db1, db2, OC) < 1e-4);
    free(x), free(w), free(b), free(y1), free(y2), free(dy), free(dx1), free(dx2), free(dw1), free(dw2), free(db1), free(db2);
}

typedef struct {
    rt_attn_shape s;
    float *q, *k, *v, *w, *out;
} attn_ctx;

static double attn_eval(void *p) {
    attn_ctx *c = p;
    rt_attention_forward_ref(c->out, NULL, c->q, c->k, c->v, &c->s);
    return dot(c->out, c->w, (size_t)c->s.B * c->s.T * c->s.n_heads * c->s.head_dim);
}

/* Short rows (one block) and rows spanning several query blocks, with and without a window that cuts
 * across block boundaries: the fast kernel equals the reference, and its backward the finite differences. */
static void test_attention(void **state) {
    (void)state;
    rt_rng r;
    rt_rng_seed(&r, 2);
    struct {
        int B, T, window;
    } cases[] = {{2, 7, 0}, {2, 7, 3}, {1, 150, 0}, {1, 150, 40}, {2, 130, 64}};
    for (size_t ci = 0; ci < sizeof cases / sizeof *cases; ci++) {
        int B = cases[ci].B, T = cases[ci].T;
        attn_ctx c = {.s = {.B = B, .T = T, .n_heads = 4, .n_kv_heads = 2, .head_dim = 8, .window = cases[ci].window}};
        size_t nq = (size_t)B * T * 4 * 8, nk = (size_t)B * T * 2 * 8, np = (size_t)B * 4 * T * T;
        c.q = randn(&r, nq, 1), c.k = randn(&r, nk, 1), c.v = randn(&r, nk, 1), c.w = randn(&r, nq, 1);
        c.out = calloc(nq, 4);
        float *out = calloc(nq, 4), *probs = calloc(np, 4), *probs_ref = calloc(np, 4);
        rt_attention_forward(out, probs, c.q, c.k, c.v, &c.s);
        rt_attention_forward_ref(c.out, probs_ref, c.q, c.k, c.v, &c.s);
        if (max_diff(out, c.out, nq) > 1e-5) fail_msg("case %zu: output differs by %g", ci, max_diff(out, c.out, nq));
        if (max_diff(probs, probs_ref, np) > 1e-6) fail_msg("case %zu: probabilities differ", ci);
        /* the window hides key 0 from query 6 when it is 3 wide */
        if (T == 7 && c.s.window) assert_true(probs[6 * 7 + 0] == 0.0f && probs[6 * 7 + 4] > 0.0f);
        float *dq = calloc(nq, 4), *dk = calloc(nk, 4), *dv = calloc(nk, 4), *scratch = malloc((size_t)T * T * 4);
        /* scratch starts as garbage (NaN) to prove the kernel never reads what it did not write */
        for (size_t i = 0; i < (size_t)T * T; i++) scratch[i] = NAN;
        rt_attention_backward(dq, dk, dv, c.w, probs, c.q, c.k, c.v, &c.s, scratch);
        check_fd(c.q, dq, nq, attn_eval, &c, "attention dq");
        check_fd(c.k, dk, nk, attn_eval, &c, "attention dk");
        check_fd(c.v, dv, nk, attn_eval, &c, "attention dv");
        for (size_t i = 0; i < nk; i++) assert_true(isfinite(dk[i]) && isfinite(dv[i]));
        free(c.q), free(c.k), free(c.v), free(c.w), free(c.out), free(out), free(probs), free(probs_ref);
        free(dq), free(dk), free(dv), free(scratch);
    }
}

typedef struct {
    float *x, *wt, *probe, *out;
    int N, C;
} norm_ctx;

static double norm_eval(void *p) {
    norm_ctx *c = p;
    rt_rmsnorm_forward(c->out, NULL, c->x, c->wt, c->N, c->C, 1e-5f);
    return dot(c->out, c->probe, (size_t)c->N * c->C);
}

static void test_rmsnorm_backward(void **state) {
    (void)state;
    rt_rng r;
    rt_rng_seed(&r, 3);
    norm_ctx c = {.N = 5, .C = 16};
    size_t n = 80;
    c.x = randn(&r, n, 1), c.wt = randn(&r, 16, 1), c.probe = randn(&r, n, 1), c.out = calloc(n, 4);
    float *rstd = calloc(5, 4), *dx = calloc(n, 4), *dw = calloc(16, 4);
    rt_rmsnorm_forward(c.out, rstd, c.x, c.wt, 5, 16, 1e-5f);
    rt_rmsnorm_backward(dx, dw, c.probe, c.x, c.wt, rstd, 5, 16);
    check_fd(c.x, dx, n, norm_eval, &c, "rmsnorm dx");
    check_fd(c.wt, dw, 16, norm_eval, &c, "rmsnorm dweight");
    free(c.x), free(c.wt), free(c.probe), free(c.out), free(rstd), free(dx), free(dw);
}

typedef struct {
    float *x, *probe, *tmp, *cs, *sn;
    int T, H, D;
} rope_ctx;

static double rope_eval(void *p) {
    rope_ctx *c = p;
    size_t n = (size_t)c->T * c->H * c->D;
    memcpy(c->tmp, c->x, n * 4);
    rt_rope_forward(c->tmp, c->cs, c->sn, 1, c->T, c->H, c->D);
    return dot(c->tmp, c->probe, n);
}

static void test_rope(void **state) {
    (void)state;
    rt_rng r;
    rt_rng_seed(&r, 4);
    rope_ctx c = {.T = 6, .H = 2, .D = 8};
    size_t n = 96;
    float inv[4];
    rt_rope_params p = {.kind = RT_ROPE_LLAMA3, .theta = 500000, .factor = 8, .low_freq_factor = 1,
                        .high_freq_factor = 4, .original_max_pos = 32};
    rt_rope_inv_freq(inv, 8, &p);
    /* llama3 keeps the highest frequency and slows the lowest by the factor */
    assert_float_equal(inv[0], 1.0f, 1e-6);
    rt_rope_params plain = p;
    plain.kind = RT_ROPE_DEFAULT;
    float inv_plain[4];
    rt_rope_inv_freq(inv_plain, 8, &plain);
    assert_float_equal(inv[3], inv_plain[3] / 8.0f, 1e-9);
    c.cs = calloc(24, 4), c.sn = calloc(24, 4);
    rt_rope_tables(c.cs, c.sn, inv, 8, 0, 6);
    c.x = randn(&r, n, 1), c.probe = randn(&r, n, 1), c.tmp = calloc(n, 4);
    float *g = malloc(n * 4);
    memcpy(g, c.probe, n * 4);
    rt_rope_backward(g, c.cs, c.sn, 1, 6, 2, 8);
    check_fd(c.x, g, n, rope_eval, &c, "rope");
    /* the rotation keeps norms */
    rope_eval(&c);
    assert_float_equal(dot(c.tmp, c.tmp, n), dot(c.x, c.x, n), 1e-3);
    free(c.x), free(c.probe), free(c.tmp), free(c.cs), free(c.sn), free(g);
}

typedef struct {
    float *g, *u, *probe, *h;
    size_t n;
} swiglu_ctx;

static double swiglu_eval(void *p) {
    swiglu_ctx *c = p;
    rt_swiglu_forward(c->h, c->g, c->u, c->n);
    return dot(c->h, c->probe, c->n);
}

static void test_swiglu_and_ce(void **state) {
    (void)state;
    rt_rng r;
    rt_rng_seed(&r, 5);
    swiglu_ctx c = {.n = 64};
    c.g = randn(&r, 64, 2), c.u = randn(&r, 64, 1), c.probe = randn(&r, 64, 1), c.h = calloc(64, 4);
    float *dg = calloc(64, 4), *du = calloc(64, 4);
    rt_swiglu_backward(dg, du, c.probe, c.g, c.u, 64);
    check_fd(c.g, dg, 64, swiglu_eval, &c, "swiglu dgate");
    check_fd(c.u, du, 64, swiglu_eval, &c, "swiglu dup");
    /* cross-entropy: ignored rows contribute nothing; gradient rows sum to zero */
    int N = 4, V = 11;
    float *z = randn(&r, (size_t)N * V, 1), *dz = calloc((size_t)N * V, 4);
    int32_t t[4] = {3, -1, 10, 0};
    int nv;
    float loss = rt_cross_entropy_forward(z, t, N, V, &nv);
    assert_int_equal(nv, 3);
    double want = 0;
    for (int i = 0; i < N; i++) {
        if (t[i] < 0) continue;
        double s = 0;
        for (int j = 0; j < V; j++) s += exp(z[i * V + j]);
        want += log(s) - z[i * V + t[i]];
    }
    assert_float_equal(loss, want / 3, 1e-5);
    rt_cross_entropy_backward(dz, z, t, N, V, 1.0f / 3);
    for (int i = 0; i < N; i++) {
        double s = 0;
        for (int j = 0; j < V; j++) s += dz[i * V + j];
        assert_float_equal(s, 0.0, 1e-6);
    }
    for (int j = 0; j < V; j++) assert_true(dz[V + j] == 0.0f);
    free(c.g), free(c.u), free(c.probe), free(c.h), free(dg), free(du), free(z), free(dz);
}

static void test_dropout_mask_reproducible(void **state) {
    (void)state;
    size_t n = 10000;
    float *a = malloc(n * 4), *b = malloc(n * 4);
    for (size_t i = 0; i < n; i++) a[i] = b[i] = 1.0f;
    rt_dropout_apply(a, n, 0.25f, 99);
    rt_dropout_apply(b, n, 0.25f, 99);
    assert_memory_equal(a, b, n * 4);
    size_t zeros = 0;
    for (size_t i = 0; i < n; i++) {
        if (a[i] == 0.0f) zeros++;
        else assert_float_equal(a[i], 1.0f / 0.75f, 1e-6);
    }
    assert_true(zeros > 2300 && zeros < 2700);
    free(a), free(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matmul_fast_vs_ref),   cmocka_unit_test(test_attention),
        cmocka_unit_test(test_rmsnorm_backward),     cmocka_unit_test(test_rope),
        cmocka_unit_test(test_swiglu_and_ce),        cmocka_unit_test(test_dropout_mask_reproducible),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
