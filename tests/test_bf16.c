/* test_bf16.c: the bf16 frozen-base mode of LoRA training (oneDNN products, float32 accumulation).
 *
 * The array rounding agrees bit for bit with the scalar conversion test_safetensors checks; the bf16
 * products agree with a double-precision product of the same bf16 inputs to float32 accuracy; and a
 * model whose base runs in bf16 gives the loss and every LoRA gradient of transformers + PEFT (the
 * float32 fixtures of tools/make_fixtures.py) to bf16 accuracy (LOGITS_REL_TOL and BF16_REL_TOL
 * relative, in norm), and five AdamW steps lower the loss along the reference's curve. The kernels the
 * mode uses (vectorised exp, loss, SwiGLU, attention in bf16) match the float32 ones.
 * Without oneDNN in the build, asking for bf16 fails with a message that says so and the product tests
 * are skipped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "retrace.h"
#include "retrace/model.h"
#include "tensor/simd_math.h"

/* bf16 keeps 8 significant bits (relative rounding error up to 2^-9 = 0.2%); errors of the inputs of
 * each product add up over the layers, so logits are good to about 0.5% and LoRA gradients to about 1%
 * (seen: up to 1.9e-2 for a v_proj lora_A, whose gradient comes through the rounded attention
 * probabilities). */
#define LOGITS_REL_TOL 2e-2
#define BF16_REL_TOL 4e-2
#define LOSS_REL_TOL 5e-4
#define B_REF 2
#define T_REF 24

static const char *const FAMILIES[] = {"llama", "mistral", "qwen2", "tied"};

/* Skips where bf16 matmuls cannot run: a build without oneDNN, or a CPU whose oneDNN has none (below
 * AVX512); either way asking for a bf16 base must be refused with a message that says which. */
static int skip_without_onednn(void) {
    if (rt_bf16_supported()) return 0;
    rt_model_config cfg = {.arch = RT_ARCH_LLAMA, .hidden_size = 8, .intermediate_size = 16, .n_layers = 1,
                           .n_heads = 2, .n_kv_heads = 1, .head_dim = 4, .vocab_size = 16,
                           .max_position_embeddings = 32, .rms_norm_eps = 1e-5f,
                           .rope = {.kind = RT_ROPE_DEFAULT, .theta = 10000.0}, .bos_token_id = -1, .eos_token_id = -1};
    rt_model *m;
    assert_int_equal(rt_model_new_random(&cfg, 1, &m), RT_OK);
    assert_int_equal(rt_model_set_base_dtype(m, RT_BASE_BF16), RT_ERR_UNSUPPORTED);
    assert_non_null(strstr(rt_errmsg(), rt_bf16_built() ? "no bf16 matmul on this CPU" : "without oneDNN"));
    rt_model_free(m);
    return 1;
}

static void test_round_array_matches_scalar(void **state) {
    (void)state;
    /* Ties (1 + 2^-8 rounds down to even, 1 + 3*2^-8 up), the largest finite values, denormals, infinities,
     * NaNs with payload only in the dropped bits, then random bit patterns. */
    uint32_t special[] = {0x3F808000u, 0x3F818000u, 0x3F80FFFFu, 0x7F7FFFFFu, 0xFF7FFFFFu, 0x00000001u, 0x807FFFFFu,
                          0x7F800000u, 0xFF800000u, 0x7F800001u, 0xFFC00000u, 0x00000000u, 0x80000000u};
    size_t ns = sizeof special / sizeof *special, n = ns + 200000;
    float *x = malloc(sizeof(float) * n);
    uint16_t *h = malloc(sizeof(uint16_t) * n);
    float *back = malloc(sizeof(float) * n);
    rt_rng rng;
    rt_rng_seed(&rng, 7);
    for (size_t i = 0; i < n; i++) {
        uint32_t u = i < ns ? special[i] : (uint32_t)rt_rng_u64(&rng);
        memcpy(&x[i], &u, sizeof u);
    }
    rt_bf16_round_array(h, x, n);
    rt_bf16_widen_array(back, h, n);
    for (size_t i = 0; i < n; i++) {
        if (h[i] != rt_f32_to_bf16(x[i])) fail_msg("element %zu (%a): 0x%04x, scalar 0x%04x", i, (double)x[i], h[i], rt_f32_to_bf16(x[i]));
        float want = rt_bf16_to_f32(h[i]);
        assert_memory_equal(&back[i], &want, sizeof want);
    }
    assert_int_equal(h[0], 0x3F80); /* 1 + 2^-8: a tie, to even */
    assert_int_equal(h[1], 0x3F82); /* 1 + 3*2^-8: a tie, to even (up) */
    assert_true(isnan(back[9]));
    free(x), free(h), free(back);
}

/* C (M,N) = A (M,K) @ op(B) in double from the bf16 values themselves. */
static void ref_product(double *C, const uint16_t *A, const uint16_t *B, int trans_b, int M, int N, int K) {
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; k < K; k++) {
                uint16_t b = trans_b ? B[(size_t)j * K + k] : B[(size_t)k * N + j];
                s += (double)rt_bf16_to_f32(A[(size_t)i * K + k]) * rt_bf16_to_f32(b);
            }
            C[(size_t)i * N + j] = s;
        }
}

static void check_gemm(int trans_b, int M, int N, int K, int accumulate) {
    uint16_t *A = malloc(sizeof(uint16_t) * (size_t)M * K), *B = malloc(sizeof(uint16_t) * (size_t)N * K);
    float *C = malloc(sizeof(float) * (size_t)M * N), *tmp = malloc(sizeof(float) * (size_t)(M > N ? M : N) * K);
    double *want = malloc(sizeof(double) * (size_t)M * N);
    rt_rng rng;
    rt_rng_seed(&rng, (uint64_t)(M * 131 + N * 7 + K));
    for (size_t i = 0; i < (size_t)M * K; i++) tmp[i] = rt_rng_normal(&rng);
    rt_bf16_round_array(A, tmp, (size_t)M * K);
    for (size_t i = 0; i < (size_t)N * K; i++) tmp[i] = rt_rng_normal(&rng);
    rt_bf16_round_array(B, tmp, (size_t)N * K);
    ref_product(want, A, B, trans_b, M, N, K);
    for (size_t i = 0; i < (size_t)M * N; i++) C[i] = accumulate ? (float)(i % 5) - 2.0f : NAN;
    assert_int_equal(rt_gemm_bf16(trans_b, M, N, K, A, B, C, accumulate), RT_OK);
    /* float32 accumulation of K products of size ~1: error well under 1e-5 * sqrt(K) * K. */
    double tol = 1e-5 * K;
    for (size_t i = 0; i < (size_t)M * N; i++) {
        double w = want[i] + (accumulate ? (double)(i % 5) - 2.0 : 0.0);
        if (fabs(C[i] - w) > tol) fail_msg("%dx%dx%d trans %d acc %d: element %zu is %g, want %g", M, N, K, trans_b, accumulate, i, C[i], w);
    }
    free(A), free(B), free(C), free(tmp), free(want);
}

static void test_gemm_against_double(void **state) {
    (void)state;
    if (!rt_bf16_supported()) {
        uint16_t a = 0;
        float c = 0;
        assert_int_equal(rt_gemm_bf16(0, 1, 1, 1, &a, &a, &c, 0), RT_ERR_UNSUPPORTED);
        assert_non_null(strstr(rt_errmsg(), rt_bf16_built() ? "refused" : "without oneDNN"));
        skip();
    }
    /* Odd sizes (no kernel tile divides them), both layouts of B, with and without accumulation; the same
     * shapes twice, so the second call comes from the primitive cache. */
    for (int rep = 0; rep < 2; rep++) {
        check_gemm(1, 37, 29, 53, 0);
        check_gemm(0, 37, 29, 53, 1);
        check_gemm(1, 64, 96, 160, 1);
        check_gemm(0, 48, 160, 64, 0);
    }
    rt_bf16_release();
    check_gemm(1, 5, 3, 7, 0);
}

/* oneDNN's float32 matmul against OpenBLAS: every transpose, a scale, both betas, and leading
 * dimensions wider than the rows (the strided views attention and the adapters use). */
static void test_sgemm_onednn_against_openblas(void **state) {
    (void)state;
    if (!rt_bf16_built()) {
        float a = 1, c = 0;
        assert_int_equal(rt_sgemm_onednn(0, 0, 1, 1, 1, 1.0f, &a, 1, &a, 1, 0.0f, &c, 1), RT_ERR_UNSUPPORTED);
        assert_non_null(strstr(rt_errmsg(), "without oneDNN"));
        skip();
    }
    const int M = 19, N = 16, K = 45, pad = 3;
    size_t cap = (size_t)(K + pad) * (M > N ? M + pad : N + pad);
    float *A = malloc(sizeof(float) * cap), *B = malloc(sizeof(float) * cap);
    float *C = malloc(sizeof(float) * (size_t)M * (N + pad)), *W = malloc(sizeof(float) * (size_t)M * (N + pad));
    rt_rng rng;
    rt_rng_seed(&rng, 3);
    for (size_t i = 0; i < cap; i++) A[i] = rt_rng_normal(&rng), B[i] = rt_rng_normal(&rng);
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (int beta = 0; beta < 2; beta++) {
                int lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
                for (int i = 0; i < M * ldc; i++) C[i] = W[i] = (float)(i % 3);
                rt_sgemm(ta, tb, M, N, K, 0.7f, A, lda, B, ldb, (float)beta, W, ldc);
                assert_int_equal(rt_sgemm_onednn(ta, tb, M, N, K, 0.7f, A, lda, B, ldb, (float)beta, C, ldc), RT_OK);
                for (int i = 0; i < M; i++)
                    for (int j = 0; j < ldc; j++) {
                        float got = C[i * ldc + j], want = W[i * ldc + j];
                        if (fabsf(got - want) > 1e-4f * (1.0f + fabsf(want)))
                            fail_msg("ta %d tb %d beta %d: C[%d][%d] %g, OpenBLAS %g", ta, tb, beta, i, j, got, want);
                    }
            }
    assert_int_equal(rt_sgemm_onednn(0, 0, M, N, K, 1.0f, A, K, B, N, 0.5f, C, N), RT_ERR_ARG);
    free(A), free(B), free(C), free(W);
}

/* The vectorised exp against libm's double exp over its whole range, and at its edges. */
static void test_fast_exp(void **state) {
    (void)state;
    double worst = 0;
    for (int i = 0; i <= 1000000; i++) {
        float x = -87.0f + 175.0f * (float)i / 1000000.0f;
        double want = exp((double)x), got = rt_fast_expf(x);
        worst = fmax(worst, fabs(got - want) / want);
    }
    if (worst > 4.0 * FLT_EPSILON) fail_msg("rt_fast_expf: worst relative error %g", worst);
    assert_true(rt_fast_expf(0.0f) == 1.0f);
    assert_true(rt_fast_expf(-1000.0f) >= 0.0f && rt_fast_expf(-1000.0f) < 2e-38f);
    assert_true(isnan(rt_fast_expf(NAN)));
    assert_true(isfinite(rt_fast_expf(1000.0f)));
}

/* SwiGLU with the vectorised exp equals the libm one to float accuracy, with the gradient written over
 * its input as the training pass does. */
static void test_swiglu_fast(void **state) {
    (void)state;
    const size_t n = 100003;
    float *g = malloc(sizeof(float) * n * 8), *u = g + n, *dh = u + n, *h0 = dh + n, *h1 = h0 + n;
    float *dg0 = h1 + n, *du0 = dg0 + n, *dg1 = du0 + n;
    rt_rng rng;
    rt_rng_seed(&rng, 9);
    for (size_t i = 0; i < 3 * n; i++) g[i] = 6.0f * rt_rng_normal(&rng);
    rt_swiglu_forward(h0, g, u, n);
    rt_swiglu_forward_fast(h1, g, u, n);
    rt_swiglu_backward(dg0, du0, dh, g, u, n);
    rt_swiglu_backward_fast(dg1, dh, dh, g, u, n); /* dup aliases dh */
    for (size_t i = 0; i < n; i++) {
        if (fabsf(h1[i] - h0[i]) > 1e-6f * (fabsf(h0[i]) + 1e-3f)) fail_msg("h[%zu] %g, libm %g", i, h1[i], h0[i]);
        if (fabsf(dg1[i] - dg0[i]) > 3e-5f * fabsf(dg0[i]) + 1e-6f) fail_msg("dgate[%zu] %g, libm %g", i, dg1[i], dg0[i]);
        if (fabsf(dh[i] - du0[i]) > 1e-6f * (fabsf(du0[i]) + 1e-3f)) fail_msg("dup[%zu] %g, libm %g", i, dh[i], du0[i]);
    }
    free(g);
}

/* The bf16 mode's loss equals the exact one to float accuracy, and its bf16 gradient is the exact
 * gradient rounded (within one bf16 step of it); ignored rows are zero. */
static void test_cross_entropy_fast(void **state) {
    (void)state;
    const int N = 6, V = 3001;
    float *z = malloc(sizeof(float) * N * V), *dz = malloc(sizeof(float) * N * V), lse[6];
    uint16_t *db = malloc(sizeof(uint16_t) * N * V);
    int32_t t[6] = {5, -1, 3000, 0, 17, -1};
    rt_rng rng;
    rt_rng_seed(&rng, 5);
    for (int i = 0; i < N * V; i++) z[i] = 4.0f * rt_rng_normal(&rng);
    int nv_exact, nv_fast;
    float want = rt_cross_entropy_forward(z, t, N, V, &nv_exact);
    float got = rt_cross_entropy_forward_fast(z, t, N, V, &nv_fast, lse);
    assert_int_equal(nv_fast, nv_exact);
    if (fabsf(got - want) > 1e-5f * want) fail_msg("loss %.8f, exact %.8f", got, want);
    rt_cross_entropy_backward(dz, z, t, N, V, 0.25f);
    rt_cross_entropy_backward_bf16(db, z, lse, t, N, V, 0.25f);
    for (int i = 0; i < N * V; i++) {
        float g = rt_bf16_to_f32(db[i]), w = dz[i];
        if (fabsf(g - w) > fabsf(w) * (1.0f / 128.0f) + 1e-30f) fail_msg("dlogits[%d] %g, exact %g", i, g, w);
    }
    free(z), free(dz), free(db);
}

static double rel_err(const float *got, const float *want, size_t n);

/* Attention with bf16 products against the float32 kernel (itself checked against the reference and
 * finite differences in test_tensor): every output and gradient within bf16 accuracy, over two batch
 * rows, several query blocks and a sliding window across them. */
static void test_attention_bf16(void **state) {
    (void)state;
    if (!rt_bf16_supported()) skip();
    int windows[] = {0, 100};
    for (int wi = 0; wi < 2; wi++) {
        rt_attn_shape s = {.B = 2, .T = 300, .n_heads = 4, .n_kv_heads = 2, .head_dim = 32, .window = windows[wi]};
        size_t nq = (size_t)s.B * s.T * 4 * 32, nk = (size_t)s.B * s.T * 2 * 32, np = (size_t)s.B * 4 * s.T * s.T;
        float *in = malloc(sizeof(float) * (2 * nq + 2 * nk)), *q = in, *k = q + nq, *v = k + nk, *dout = v + nk;
        rt_rng rng;
        rt_rng_seed(&rng, 13);
        for (size_t i = 0; i < 2 * nq + 2 * nk; i++) in[i] = rt_rng_normal(&rng);
        float *res[2], *scratch = malloc(sizeof(float) * (size_t)s.T * s.T);
        float *scratch16 = malloc(sizeof(float) * rt_attention_bf16_scratch(&s));
        size_t offs[] = {0, nq, 2 * nq, 2 * nq + nk, 2 * nq + 2 * nk, 2 * nq + 2 * nk + np};
        const char *names[] = {"out", "dq", "dk", "dv", "probs"};
        for (int bf = 0; bf < 2; bf++) {
            float *r = res[bf] = malloc(sizeof(float) * offs[5]);
            for (size_t i = 0; i < offs[5]; i++) r[i] = NAN; /* every element must be written */
            float *out = r, *dq = r + offs[1], *dk = r + offs[2], *dv = r + offs[3], *probs = r + offs[4];
            if (bf) {
                assert_int_equal(rt_attention_forward_bf16(out, probs, q, k, v, &s, scratch16), RT_OK);
                assert_int_equal(rt_attention_backward_bf16(dq, dk, dv, dout, probs, q, k, v, &s, scratch16), RT_OK);
            } else {
                rt_attention_forward(out, probs, q, k, v, &s);
                rt_attention_backward(dq, dk, dv, dout, probs, q, k, v, &s, scratch);
            }
        }
        /* probs: only the visible blocks are written (NaN elsewhere); compare those, where the reference
         * has zeros outside. */
        for (size_t i = offs[4]; i < offs[5]; i++)
            if (isnan(res[1][i])) res[1][i] = res[0][i] == 0.0f ? 0.0f : NAN;
        for (int t = 0; t < 5; t++) {
            double e = rel_err(res[1] + offs[t], res[0] + offs[t], offs[t + 1] - offs[t]);
            if (!(e < 1e-2)) fail_msg("window %d: %s differs by %g relative", windows[wi], names[t], e);
        }
        free(in), free(res[0]), free(res[1]), free(scratch), free(scratch16);
    }
}

/* ---- the model against transformers + PEFT ---- */

typedef struct {
    char dir[512];
    rt_st_file *ref;
    int32_t ids[B_REF * T_REF], mask[B_REF * T_REF], targets[B_REF * T_REF];
} fixture;

static void fixture_open(fixture *f, const char *name) {
    snprintf(f->dir, sizeof f->dir, "%s/models/%s", RT_FIXTURES_DIR, name);
    char path[600];
    snprintf(path, sizeof path, "%s/reference.safetensors", f->dir);
    assert_int_equal(rt_st_open(path, &f->ref), RT_OK);
    int64_t shape[2] = {B_REF, T_REF};
    assert_int_equal(rt_st_read_i32(f->ref, "input_ids", f->ids, 2, shape), RT_OK);
    assert_int_equal(rt_st_read_i32(f->ref, "loss_mask", f->mask, 2, shape), RT_OK);
    rt_causal_targets(f->targets, f->ids, f->mask, B_REF, T_REF);
}

/* The fixture's model with its PEFT adapter, set up for LoRA training with the base in `dtype`. */
static rt_model *load_lora(const fixture *f, rt_base_dtype dtype) {
    char path[600];
    rt_model *m = NULL;
    snprintf(path, sizeof path, "%s/model", f->dir);
    if (rt_model_load(path, &m) != RT_OK) fail_msg("%s", rt_errmsg());
    snprintf(path, sizeof path, "%s/adapter", f->dir);
    if (rt_lora_load_peft(m, path) != RT_OK) fail_msg("%s", rt_errmsg());
    assert_int_equal(rt_model_train_setup(m, 0), RT_OK);
    if (rt_model_set_base_dtype(m, dtype) != RT_OK) fail_msg("%s", rt_errmsg());
    m->training = 0; /* the fixture's dropout is 0 anyway; this keeps the pass deterministic */
    return m;
}

static float *ref_floats(const fixture *f, const char *name, size_t *numel) {
    const rt_st_tensor *t = rt_st_find(f->ref, name);
    if (!t) fail_msg("reference tensor '%s' missing", name);
    float *buf = malloc(sizeof(float) * (size_t)t->numel);
    assert_int_equal(rt_st_read_f32(f->ref, name, buf, t->ndim, t->shape), RT_OK);
    if (numel) *numel = (size_t)t->numel;
    return buf;
}

/* ||got - want|| / ||want|| */
static double rel_err(const float *got, const float *want, size_t n) {
    double d = 0, w = 0;
    for (size_t i = 0; i < n; i++) {
        d += ((double)got[i] - want[i]) * ((double)got[i] - want[i]);
        w += (double)want[i] * want[i];
    }
    return sqrt(d) / (w > 0 ? sqrt(w) : 1.0);
}

static void test_lora_grads_against_peft(void **state) {
    (void)state;
    if (skip_without_onednn()) skip();
    for (size_t i = 0; i < sizeof FAMILIES / sizeof *FAMILIES; i++) {
        fixture f;
        fixture_open(&f, FAMILIES[i]);
        rt_model *m = load_lora(&f, RT_BASE_BF16);
        float loss;
        assert_int_equal(rt_model_forward(m, f.ids, f.targets, B_REF, T_REF, &loss), RT_OK);
        size_t n;
        float *want_logits = ref_floats(&f, "logits", &n), *want_loss = ref_floats(&f, "loss", NULL);
        double el = rel_err(rt_model_logits(m), want_logits, n);
        if (el > LOGITS_REL_TOL) fail_msg("%s: logits differ by %g relative", f.dir, el);
        if (fabs(loss - want_loss[0]) > LOSS_REL_TOL * want_loss[0])
            fail_msg("%s: loss %f, PEFT %f", f.dir, loss, want_loss[0]);
        assert_int_equal(rt_model_backward(m, 1.0f), RT_OK);
        double worst = 0;
        char worst_key[256] = "";
        for (int p = 0; p < m->n_param_list; p++) {
            char key[256];
            snprintf(key, sizeof key, "grad.%s", m->param_list[p].name);
            float *want = ref_floats(&f, key, &n);
            assert_int_equal(n, m->param_list[p].numel);
            double e = rel_err(m->param_list[p].grad, want, n);
            if (e > BF16_REL_TOL) fail_msg("%s: %s differs by %g relative", f.dir, key, e);
            if (e > worst) snprintf(worst_key, sizeof worst_key, "%s", m->param_list[p].name);
            worst = fmax(worst, e);
            free(want);
        }
        /* bf16 really ran: float32 gets these to about 1e-6, bf16 cannot. */
        assert_true(worst > 1e-5);
        print_message("%s: bf16 base: loss %.6f (PEFT %.6f), logits %.2e, worst LoRA gradient %.2e relative (%s)\n",
                      FAMILIES[i], loss, want_loss[0], el, worst, worst_key);
        free(want_logits), free(want_loss);
        rt_model_free(m);
        rt_st_close(f.ref);
    }
}

static void test_adamw_steps_lower_loss(void **state) {
    (void)state;
    if (skip_without_onednn()) skip();
    for (size_t i = 0; i < sizeof FAMILIES / sizeof *FAMILIES; i++) {
        fixture f;
        fixture_open(&f, FAMILIES[i]);
        rt_model *m = load_lora(&f, RT_BASE_BF16);
        rt_adamw opt;
        rt_adamw_params hp = {.lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 0.01f};
        assert_int_equal(rt_adamw_init(&opt, m->param_list, m->n_param_list, hp), RT_OK);
        float *want = ref_floats(&f, "adam_losses", NULL), first = 0, loss = 0;
        for (int step = 0; step < 5; step++) {
            rt_params_zero_grad(m->param_list, m->n_param_list);
            assert_int_equal(rt_model_forward(m, f.ids, f.targets, B_REF, T_REF, &loss), RT_OK);
            assert_int_equal(rt_model_backward(m, 1.0f), RT_OK);
            rt_params_clip_grad_norm(m->param_list, m->n_param_list, 1.0f);
            rt_adamw_step(&opt, hp.lr);
            if (step == 0) first = loss;
            if (fabs(loss - want[step]) > LOSS_REL_TOL * want[step])
                fail_msg("%s: step %d loss %f, PEFT in float32 %f", f.dir, step, loss, want[step]);
        }
        if (!(loss < first)) fail_msg("%s: bf16 training did not lower the loss (%f -> %f)", f.dir, first, loss);
        free(want);
        rt_adamw_free(&opt);
        rt_model_free(m);
        rt_st_close(f.ref);
    }
}

/* With LoRA dropout on, the bf16 mode draws the same masks as float32 (they are regenerated from a seed
 * in the backward pass) and its gradients agree with float32's to bf16 accuracy. */
static void test_dropout_matches_f32(void **state) {
    (void)state;
    if (skip_without_onednn()) skip();
    fixture f;
    fixture_open(&f, "llama");
    rt_model *m[2] = {load_lora(&f, RT_BASE_F32), load_lora(&f, RT_BASE_BF16)};
    float loss[2];
    for (int i = 0; i < 2; i++) {
        m[i]->lora_cfg.dropout = 0.3f; /* before the first pass, which sizes the dropout buffer */
        m[i]->training = 1;
        m[i]->dropout_seed = 77;
        assert_int_equal(rt_model_forward(m[i], f.ids, f.targets, B_REF, T_REF, &loss[i]), RT_OK);
        assert_int_equal(rt_model_backward(m[i], 1.0f), RT_OK);
    }
    if (fabsf(loss[1] - loss[0]) > LOSS_REL_TOL * loss[0]) fail_msg("loss with dropout: bf16 %f, f32 %f", loss[1], loss[0]);
    float *no_dropout = ref_floats(&f, "loss", NULL);
    if (!(fabsf(loss[0] - no_dropout[0]) > 1e-4f)) fail_msg("dropout changed nothing (loss %f)", loss[0]);
    free(no_dropout);
    for (int p = 0; p < m[0]->n_param_list; p++) {
        double e = rel_err(m[1]->param_list[p].grad, m[0]->param_list[p].grad, m[0]->param_list[p].numel);
        if (e > BF16_REL_TOL) fail_msg("%s with dropout differs by %g relative", m[0]->param_list[p].name, e);
    }
    rt_model_free(m[0]);
    rt_model_free(m[1]);
    rt_st_close(f.ref);
}

/* Full fine-tuning ignores the bf16 setting (its base changes every step), and f32 frees the copy:
 * both give the float32 results exactly. */
static void test_f32_paths_unchanged(void **state) {
    (void)state;
    if (skip_without_onednn()) skip();
    fixture f;
    fixture_open(&f, "qwen2");
    rt_model *m32 = load_lora(&f, RT_BASE_F32), *m = load_lora(&f, RT_BASE_BF16);
    assert_non_null(m->base_bf16);
    assert_int_equal(rt_model_set_base_dtype(m, RT_BASE_F32), RT_OK);
    assert_null(m->base_bf16);
    float l32, l;
    assert_int_equal(rt_model_forward(m32, f.ids, f.targets, B_REF, T_REF, &l32), RT_OK);
    assert_int_equal(rt_model_forward(m, f.ids, f.targets, B_REF, T_REF, &l), RT_OK);
    assert_memory_equal(rt_model_logits(m), rt_model_logits(m32), sizeof(float) * B_REF * T_REF * m->cfg.vocab_size);

    assert_int_equal(rt_model_set_base_dtype(m, RT_BASE_BF16), RT_OK);
    assert_int_equal(rt_model_train_setup(m, 1), RT_OK);
    assert_int_equal(rt_model_train_setup(m32, 1), RT_OK);
    assert_int_equal(rt_model_forward(m32, f.ids, f.targets, B_REF, T_REF, &l32), RT_OK);
    assert_int_equal(rt_model_forward(m, f.ids, f.targets, B_REF, T_REF, &l), RT_OK);
    assert_memory_equal(&l, &l32, sizeof l);
    assert_int_equal(rt_model_backward(m, 1.0f), RT_OK);
    assert_int_equal(rt_model_backward(m32, 1.0f), RT_OK);
    assert_memory_equal(m->grads, m32->grads, sizeof(float) * m->n_params);
    assert_int_equal(rt_model_set_base_dtype(m, (rt_base_dtype)7), RT_ERR_ARG);
    rt_model_free(m);
    rt_model_free(m32);
    rt_st_close(f.ref);
}

/* Merging an adapter into a base that has a bf16 copy refreshes the copy: the merged model computes
 * exactly what a model merged first and then rounded computes. */
static void test_merge_refreshes_bf16_copy(void **state) {
    (void)state;
    if (skip_without_onednn()) skip();
    fixture f;
    fixture_open(&f, "llama");
    rt_model *m = load_lora(&f, RT_BASE_BF16), *ref = NULL;
    assert_int_equal(rt_lora_merge(m), RT_OK);
    char path[600];
    snprintf(path, sizeof path, "%s/model", f.dir);
    assert_int_equal(rt_model_load(path, &ref), RT_OK);
    snprintf(path, sizeof path, "%s/adapter", f.dir);
    assert_int_equal(rt_lora_load_peft(ref, path), RT_OK);
    assert_int_equal(rt_lora_merge(ref), RT_OK);
    assert_int_equal(rt_model_set_base_dtype(ref, RT_BASE_BF16), RT_OK);
    float l, lref;
    assert_int_equal(rt_model_forward(m, f.ids, f.targets, B_REF, T_REF, &l), RT_OK);
    assert_int_equal(rt_model_forward(ref, f.ids, f.targets, B_REF, T_REF, &lref), RT_OK);
    assert_memory_equal(rt_model_logits(m), rt_model_logits(ref), sizeof(float) * B_REF * T_REF * m->cfg.vocab_size);
    rt_model_free(m);
    rt_model_free(ref);
    rt_st_close(f.ref);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_array_matches_scalar),
        cmocka_unit_test(test_fast_exp),
        cmocka_unit_test(test_cross_entropy_fast),
        cmocka_unit_test(test_swiglu_fast),
        cmocka_unit_test(test_gemm_against_double),
        cmocka_unit_test(test_sgemm_onednn_against_openblas),
        cmocka_unit_test(test_attention_bf16),
        cmocka_unit_test(test_lora_grads_against_peft),
        cmocka_unit_test(test_adamw_steps_lower_loss),
        cmocka_unit_test(test_dropout_matches_f32),
        cmocka_unit_test(test_f32_paths_unchanged),
        cmocka_unit_test(test_merge_refreshes_bf16_copy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
