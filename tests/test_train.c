/* test_train.c: the training loop: the loss falls on the built-in corpus, a run interrupted by a
 * checkpoint and resumed ends with bit-identical weights, gradient accumulation equals the larger batch,
 * LoRA dropout gradients match finite differences of the same masked forward pass. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "retrace.h"

typedef struct {
    const unsigned char *text;
    size_t len;
} corpus;

static rt_status windows(void *ctx, rt_rng *rng, int64_t index, int32_t *ids, int32_t *targets, int B, int T,
                            int *T_used) {
    (void)index;
    *T_used = T;
    const corpus *c = ctx;
    for (int b = 0; b < B; b++) {
        size_t s = (size_t)rt_rng_below(rng, c->len - (size_t)T - 1);
        for (int t = 0; t < T; t++) ids[b * T + t] = c->text[s + t], targets[b * T + t] = c->text[s + t + 1];
    }
    return RT_OK;
}

static rt_model_config tiny(void) {
    rt_model_config c = {.arch = RT_ARCH_LLAMA, .hidden_size = 32, .intermediate_size = 64, .n_layers = 2,
                         .n_heads = 4, .n_kv_heads = 2, .head_dim = 8, .vocab_size = 256,
                         .max_position_embeddings = 64, .rms_norm_eps = 1e-5f,
                         .rope = {.kind = RT_ROPE_DEFAULT, .theta = 10000.0}, .tie_word_embeddings = 1,
                         .bos_token_id = -1, .eos_token_id = -1};
    return c;
}

static rt_train_params params(int64_t steps) {
    rt_train_params p = rt_train_params_default();
    p.steps = steps, p.batch = 2, p.seq = 16, p.seed = 5, p.log_every = 0;
    p.adamw.lr = 1e-2f;
    p.decay = RT_DECAY_COSINE;
    return p;
}

static void test_loss_falls(void **state) {
    (void)state;
    char *text = rt_builtin_corpus(3, 20000);
    corpus c = {(const unsigned char *)text, strlen(text)};
    rt_model_config cfg = tiny();
    rt_model *m;
    assert_int_equal(rt_model_new_random(&cfg, 1, &m), RT_OK);
    assert_int_equal(rt_model_train_setup(m, 1), RT_OK);
    rt_train_params p = params(60);
    rt_train_result r;
    assert_int_equal(rt_train_run(m, &p, windows, &c, &r), RT_OK);
    assert_int_equal(r.steps_done, 60);
    assert_true(r.first_loss > 5.0f);         /* ~ln(256) at the start */
    assert_true(r.last_loss < r.first_loss - 2.0f);
    rt_model_free(m);
    free(text);
}

/* Runs `steps` steps, optionally stopping at `stop` and resuming from the checkpoint in a fresh model. */
static float *train_copy(int64_t steps, int64_t stop, const char *ckpt, int lora, size_t *n_out) {
    char *text = rt_builtin_corpus(3, 20000);
    corpus c = {(const unsigned char *)text, strlen(text)};
    rt_model_config cfg = tiny();
    rt_model *m;
    assert_int_equal(rt_model_new_random(&cfg, 1, &m), RT_OK);
    rt_lora_config lc = {.r = 4, .alpha = 8, .rslora = 1, .dropout = 0.1f, .proj_mask = RT_PROJ_ALL_MASK};
    if (lora) assert_int_equal(rt_lora_attach(m, &lc, 9), RT_OK);
    assert_int_equal(rt_model_train_setup(m, !lora), RT_OK);
    rt_train_params p = params(steps);
    p.accum = 2;
    rt_train_result r;
    if (stop) {
        p.stop_at = stop;
        p.ckpt_path = ckpt;
        assert_int_equal(rt_train_run(m, &p, windows, &c, &r), RT_OK);
        rt_model_free(m);
        /* a new process would start from the same base and adapter initialisation */
        assert_int_equal(rt_model_new_random(&cfg, 1, &m), RT_OK);
        if (lora) assert_int_equal(rt_lora_attach(m, &lc, 9), RT_OK);
        assert_int_equal(rt_model_train_setup(m, !lora), RT_OK);
        p.stop_at = 0;
        p.resume_path = ckpt;
    }
    assert_int_equal(rt_train_run(m, &p, windows, &c, &r), RT_OK);
    assert_int_equal(r.steps_done, steps);
    (void)r;
    size_t total = 0;
    for (int i = 0; i < m->n_param_list; i++) total += m->param_list[i].numel;
    *n_out = total;
    float *out = malloc(sizeof(float) * total), *o = out;
    for (int i = 0; i < m->n_param_list; i++) {
        memcpy(o, m->param_list[i].data, sizeof(float) * m->param_list[i].numel);
        o += m->param_list[i].numel;
    }
    rt_model_free(m);
    free(text);
    return out;
}

static void test_resume_bit_exact(void **state) {
    (void)state;
    char dir[] = "/tmp/rt_train_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *ckpt = rt_path_join(dir, "ckpt.safetensors");
    for (int lora = 0; lora <= 1; lora++) {
        size_t n, n2;
        float *straight = train_copy(12, 0, NULL, lora, &n);
        float *resumed = train_copy(12, 5, ckpt, lora, &n2);
        assert_int_equal(n, n2);
        assert_memory_equal(straight, resumed, n * sizeof(float));
        free(straight);
        free(resumed);
        unlink(ckpt);
    }
    rmdir(dir);
    free(ckpt);
}

typedef struct {
    const int32_t *ids, *targets;
    int B, T;
} batch_ctx;

/* Micro-batch k of an accumulated step takes rows k*B.. of the big batch. */
static void take_rows(const batch_ctx *b, int k, int32_t *ids, int32_t *targets, int B, int T) {
    memcpy(ids, b->ids + (size_t)k * B * T, sizeof(int32_t) * (size_t)B * T);
    memcpy(targets, b->targets + (size_t)k * B * T, sizeof(int32_t) * (size_t)B * T);
}

static void test_accumulation_equals_big_batch(void **state) {
    (void)state;
    rt_model_config cfg = tiny();
    int B = 4, T = 16;
    int32_t ids[64], targets[64];
    rt_rng r;
    rt_rng_seed(&r, 11);
    for (int i = 0; i < B * T; i++) ids[i] = (int32_t)rt_rng_below(&r, 256), targets[i] = (int32_t)rt_rng_below(&r, 256);
    batch_ctx bc = {ids, targets, B, T};
    float *grads[2];
    for (int variant = 0; variant < 2; variant++) {
        rt_model *m;
        assert_int_equal(rt_model_new_random(&cfg, 1, &m), RT_OK);
        assert_int_equal(rt_model_train_setup(m, 1), RT_OK);
        rt_params_zero_grad(m->param_list, m->n_param_list);
        int micro = variant ? 2 : 1, mb = B / micro;
        for (int k = 0; k < micro; k++) {
            int32_t xi[64], xt[64];
            take_rows(&bc, k, xi, xt, mb, T);
            float loss;
            assert_int_equal(rt_model_forward(m, xi, xt, mb, T, &loss), RT_OK);
            assert_int_equal(rt_model_backward(m, 1.0f / micro), RT_OK);
        }
        grads[variant] = malloc(sizeof(float) * m->n_params);
        memcpy(grads[variant], m->grads, sizeof(float) * m->n_params);
        size_t n = m->n_params;
        rt_model_free(m);
        if (variant) {
            double maxd = 0, maxg = 0;
            for (size_t i = 0; i < n; i++) {
                maxd = fmax(maxd, fabs((double)grads[0][i] - grads[1][i]));
                maxg = fmax(maxg, fabs((double)grads[0][i]));
            }
            /* equal token counts per micro-batch, so the mean of means is the mean */
            assert_true(maxd <= 1e-5 * maxg + 1e-7);
        }
    }
    free(grads[0]);
    free(grads[1]);
}

static void test_lora_dropout_gradient(void **state) {
    (void)state;
    rt_model_config cfg = tiny();
    rt_model *m;
    assert_int_equal(rt_model_new_random(&cfg, 2, &m), RT_OK);
    rt_lora_config lc = {.r = 4, .alpha = 8, .rslora = 0, .dropout = 0.3f, .proj_mask = RT_PROJ_ALL_MASK};
    assert_int_equal(rt_lora_attach(m, &lc, 4), RT_OK);
    assert_int_equal(rt_model_train_setup(m, 0), RT_OK);
    /* non-zero B so the A gradients are not trivially zero */
    rt_rng r;
    rt_rng_seed(&r, 8);
    for (int i = 0; i < m->n_param_list; i++)
        for (size_t j = 0; j < m->param_list[i].numel; j++) m->param_list[i].data[j] = 0.1f * rt_rng_normal(&r);
    int32_t ids[32], tg[32];
    for (int i = 0; i < 32; i++) ids[i] = (int32_t)rt_rng_below(&r, 256), tg[i] = (int32_t)rt_rng_below(&r, 256);
    float loss, lp, lm;
    m->forward_count = 41;
    assert_int_equal(rt_model_forward(m, ids, tg, 2, 16, &loss), RT_OK);
    assert_int_equal(rt_model_backward(m, 1.0f), RT_OK);
    /* the same masks (same forward_count) with and without dropout must differ: dropout is on */
    const float eps = 1e-2f;
    for (int pi = 0; pi < m->n_param_list; pi += 5) {
        rt_param *p = &m->param_list[pi];
        size_t j = p->numel / 3;
        float old = p->data[j], g = p->grad[j];
        p->data[j] = old + eps;
        m->forward_count = 41;
        assert_int_equal(rt_model_forward(m, ids, tg, 2, 16, &lp), RT_OK);
        p->data[j] = old - eps;
        m->forward_count = 41;
        assert_int_equal(rt_model_forward(m, ids, tg, 2, 16, &lm), RT_OK);
        p->data[j] = old;
        double num = ((double)lp - lm) / (2 * eps);
        if (fabs(num - g) > 2e-2 * fmax(1e-2, fabs(num))) fail_msg("%s[%zu]: analytic %g numeric %g", p->name, j, g, num);
    }
    m->training = 0;
    float clean;
    assert_int_equal(rt_model_forward(m, ids, tg, 2, 16, &clean), RT_OK);
    assert_true(fabsf(clean - loss) > 1e-6f);
    rt_model_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loss_falls),
        cmocka_unit_test(test_resume_bit_exact),
        cmocka_unit_test(test_accumulation_equals_big_batch),
        cmocka_unit_test(test_lora_dropout_gradient),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
