/* test_generate.c: generation sessions and batched generation against one-at-a-time rt_generate, on the
 * fixture models (tools/make_fixtures.py; rt_generate itself is checked token for token against
 * transformers in test_model.c). Batched, chunked and prefix-reusing runs must give the same tokens
 * and the same logits bit for bit; sampled runs the same tokens per seed; errors are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "model/gen_internal.h"
#include "retrace.h"
#include "retrace/model.h"

static const char *const FAMILIES[] = {"llama", "mistral", "qwen2", "tied"};
#define N_FAMILIES 4
#define MAX_PROMPT 320
#define MAX_NEW 12

/* The fixture model with its LoRA adapter (so the adapter path runs too). */
static rt_model *load(const char *name) {
    char path[600];
    rt_model *m = NULL;
    snprintf(path, sizeof path, "%s/models/%s/model", RT_FIXTURES_DIR, name);
    if (rt_model_load(path, &m) != RT_OK) fail_msg("%s", rt_errmsg());
    snprintf(path, sizeof path, "%s/models/%s/adapter", RT_FIXTURES_DIR, name);
    if (rt_lora_load_peft(m, path) != RT_OK) fail_msg("%s", rt_errmsg());
    return m;
}

static void random_ids(int32_t *ids, int n, int V, uint64_t seed) {
    rt_rng r;
    rt_rng_seed(&r, seed);
    for (int i = 0; i < n; i++) ids[i] = (int32_t)rt_rng_below(&r, (uint64_t)V);
}

/* Prompts of different lengths (one longer than a forward chunk), generated alone with rt_generate,
 * then in batches of 1..4 sessions: equal tokens for every sequence. */
static void test_batch_equals_single(void **state) {
    (void)state;
    static const int lens[] = {5, 17, 3, RT_GEN_CHUNK_ROWS + 40};
    for (int f = 0; f < N_FAMILIES; f++) {
        rt_model *m = load(FAMILIES[f]);
        int32_t prompts[4][MAX_PROMPT], want[4][MAX_NEW], got[4][MAX_NEW];
        int n_want[4], n_got[4];
        rt_gen_params gp[4];
        for (int b = 0; b < 4; b++) {
            random_ids(prompts[b], lens[b], m->cfg.vocab_size, 100 + b);
            gp[b] = rt_gen_params_default();
            gp[b].max_new_tokens = MAX_NEW - b; /* sequences stop at different times */
            assert_int_equal(rt_generate(m, prompts[b], lens[b], &gp[b], want[b], &n_want[b]), RT_OK);
            assert_int_equal(n_want[b], MAX_NEW - b);
        }
        for (int B = 1; B <= 4; B++) {
            rt_gen_session *ss[4];
            const int32_t *pp[4];
            int32_t *outs[4];
            for (int b = 0; b < B; b++) {
                /* batch B holds sequences B-1, B-2, ..: a different mix and order each time */
                int src = (B - 1 + b) % 4;
                assert_int_equal(rt_gen_session_new(m, MAX_PROMPT + MAX_NEW, &ss[b]), RT_OK);
                pp[b] = prompts[src], outs[b] = got[b];
            }
            int np[4];
            rt_gen_params gpb[4];
            for (int b = 0; b < B; b++) np[b] = lens[(B - 1 + b) % 4], gpb[b] = gp[(B - 1 + b) % 4];
            assert_int_equal(rt_generate_batch(ss, B, pp, np, gpb, outs, n_got), RT_OK);
            for (int b = 0; b < B; b++) {
                int src = (B - 1 + b) % 4;
                assert_int_equal(n_got[b], n_want[src]);
                if (memcmp(got[b], want[src], sizeof(int32_t) * n_got[b]))
                    fail_msg("%s: batch of %d, sequence %d differs from rt_generate", FAMILIES[f], B, b);
                rt_gen_session_free(ss[b]);
            }
        }
        rt_model_free(m);
    }
}

/* The logits of a prompt decoded in one call, in chunks and one token at a time are the same bits. */
static void test_logits_bitwise(void **state) {
    (void)state;
    for (int f = 0; f < N_FAMILIES; f++) {
        rt_model *m = load(FAMILIES[f]);
        int n = RT_GEN_CHUNK_ROWS + 9, V = m->cfg.vocab_size;
        int32_t ids[RT_GEN_CHUNK_ROWS + 9];
        random_ids(ids, n, V, 7);
        float *a = malloc(sizeof(float) * V), *b = malloc(sizeof(float) * V), *c = malloc(sizeof(float) * V);
        rt_kv_cache k1, k2, k3;
        assert_int_equal(rt_kv_cache_init(&k1, m, n), RT_OK);
        assert_int_equal(rt_kv_cache_init(&k2, m, n), RT_OK);
        assert_int_equal(rt_kv_cache_init(&k3, m, n), RT_OK);
        assert_int_equal(rt_model_decode(m, &k1, ids, n, a), RT_OK);
        assert_int_equal(rt_model_decode(m, &k2, ids, 11, b), RT_OK);
        assert_int_equal(rt_model_decode(m, &k2, ids + 11, n - 11, b), RT_OK);
        for (int i = 0; i < n; i++) assert_int_equal(rt_model_decode(m, &k3, ids + i, 1, c), RT_OK);
        if (memcmp(a, b, sizeof(float) * V)) fail_msg("%s: chunked prefill changes the logits", FAMILIES[f]);
        if (memcmp(a, c, sizeof(float) * V)) fail_msg("%s: token-by-token decode changes the logits", FAMILIES[f]);
        rt_kv_cache_free(&k1), rt_kv_cache_free(&k2), rt_kv_cache_free(&k3);
        free(a), free(b), free(c);
        rt_model_free(m);
    }
}

/* An agent's steps: each prompt extends the last one with the model's output and new tokens; the
 * session prefills only the new suffix and generates what rt_generate does on the full prompt. A prompt
 * that diverges in the middle keeps only the common prefix. */
static void test_prefix_reuse(void **state) {
    (void)state;
    for (int f = 0; f < N_FAMILIES; f++) {
        rt_model *m = load(FAMILIES[f]);
        int V = m->cfg.vocab_size, n = 20;
        int32_t prompt[200], out[MAX_NEW], want[MAX_NEW];
        random_ids(prompt, n, V, 11);
        rt_gen_session *s;
        assert_int_equal(rt_gen_session_new(m, 200, &s), RT_OK);
        rt_gen_params gp = rt_gen_params_default();
        gp.max_new_tokens = 6;
        int expect_reused = 0;
        for (int step = 0; step < 4; step++) {
            int n_out, n_want;
            assert_int_equal(rt_gen_session_generate(s, prompt, n, &gp, out, &n_out), RT_OK);
            assert_int_equal(rt_generate(m, prompt, n, &gp, want, &n_want), RT_OK);
            assert_int_equal(n_out, n_want);
            if (memcmp(out, want, sizeof(int32_t) * n_out)) fail_msg("%s: step %d differs with reuse", FAMILIES[f], step);
            rt_gen_stats st = rt_gen_session_stats(s);
            assert_int_equal(st.reused, expect_reused);
            assert_int_equal(st.prefilled, n - expect_reused);
            assert_int_equal(st.decoded, n_out - 1);
            /* the cache holds the prompt and all but the last generated token */
            assert_int_equal(rt_gen_session_len(s), n + n_out - 1);
            assert_memory_equal(rt_gen_session_tokens(s), prompt, sizeof(int32_t) * n);
            expect_reused = n + n_out - 1;
            memcpy(prompt + n, out, sizeof(int32_t) * n_out);
            n += n_out;
            random_ids(prompt + n, 5, V, 50 + step);
            n += 5;
        }
        /* The same prompt again: all but its last token are reused. */
        int n_out, n_want;
        assert_int_equal(rt_gen_session_generate(s, prompt, n, &gp, out, &n_out), RT_OK);
        assert_int_equal(rt_gen_session_generate(s, prompt, n, &gp, out, &n_out), RT_OK);
        assert_int_equal(rt_gen_session_stats(s).reused, n - 1);
        assert_int_equal(rt_gen_session_stats(s).prefilled, 1);
        /* A change at position 10: the first 10 are kept, the rest recomputed. */
        prompt[10] = (prompt[10] + 1) % V;
        assert_int_equal(rt_gen_session_generate(s, prompt, n, &gp, out, &n_out), RT_OK);
        assert_int_equal(rt_gen_session_stats(s).reused, 10);
        assert_int_equal(rt_generate(m, prompt, n, &gp, want, &n_want), RT_OK);
        assert_int_equal(n_out, n_want);
        assert_memory_equal(out, want, sizeof(int32_t) * n_out);
        rt_gen_session_free(s);
        rt_model_free(m);
    }
}

/* A session's cache grows past its first allocation (512 positions) keeping what it holds. */
static void test_cache_growth(void **state) {
    (void)state;
    rt_model *m = load("mistral");
    int V = m->cfg.vocab_size;
    static int32_t prompt[1200];
    int32_t out[4], want[4];
    random_ids(prompt, 1200, V, 31);
    rt_gen_session *s;
    assert_int_equal(rt_gen_session_new(m, 2000, &s), RT_OK);
    rt_gen_params gp = rt_gen_params_default();
    gp.max_new_tokens = 4;
    int n_out, n_want;
    assert_int_equal(rt_gen_session_generate(s, prompt, 300, &gp, out, &n_out), RT_OK);
    assert_int_equal(rt_gen_session_generate(s, prompt, 1100, &gp, out, &n_out), RT_OK);
    assert_int_equal(rt_gen_session_stats(s).reused, 300);
    assert_int_equal(rt_generate(m, prompt, 1100, &gp, want, &n_want), RT_OK);
    assert_int_equal(n_out, n_want);
    assert_memory_equal(out, want, sizeof(int32_t) * n_out);
    rt_gen_session_free(s);
    rt_model_free(m);
}

/* Sampling: each sequence of a batch draws with its own seed, as rt_generate does with that seed; EOS
 * and stop at different steps per sequence. */
static void test_sampled_and_eos(void **state) {
    (void)state;
    rt_model *m = load("qwen2");
    int V = m->cfg.vocab_size, n = 9;
    int32_t prompt[9], want[3][MAX_NEW], got[3][MAX_NEW];
    random_ids(prompt, n, V, 3);
    rt_gen_params gp[3];
    int n_want[3], n_got[3];
    for (int b = 0; b < 3; b++) {
        gp[b] = rt_gen_params_default();
        gp[b].max_new_tokens = MAX_NEW, gp[b].temperature = 1.2f, gp[b].top_p = b == 2 ? 0.9f : 1.0f;
        gp[b].seed = 1000 + (uint64_t)b;
    }
    /* sequence 1 stops at the EOS its unconstrained run draws third */
    assert_int_equal(rt_generate(m, prompt, n, &gp[1], want[1], &n_want[1]), RT_OK);
    gp[1].eos_token_id = want[1][2];
    int any_diff = 0;
    for (int b = 0; b < 3; b++) {
        assert_int_equal(rt_generate(m, prompt, n, &gp[b], want[b], &n_want[b]), RT_OK);
        if (b && memcmp(want[b], want[0], sizeof(int32_t) * 2)) any_diff = 1;
    }
    assert_true(n_want[1] <= 2);
    assert_true(any_diff); /* the seeds matter, so the comparison below means something */
    rt_gen_session *ss[3];
    const int32_t *pp[3] = {prompt, prompt, prompt};
    int32_t *outs[3] = {got[0], got[1], got[2]};
    int np[3] = {n, n, n};
    for (int b = 0; b < 3; b++) assert_int_equal(rt_gen_session_new(m, 64, &ss[b]), RT_OK);
    assert_int_equal(rt_generate_batch(ss, 3, pp, np, gp, outs, n_got), RT_OK);
    for (int b = 0; b < 3; b++) {
        assert_int_equal(n_got[b], n_want[b]);
        assert_memory_equal(got[b], want[b], sizeof(int32_t) * n_got[b]);
    }
    for (int b = 0; b < 3; b++) rt_gen_session_free(ss[b]);
    rt_model_free(m);
}

/* Bad calls are refused with a message and leave the sessions usable. */
static void test_errors(void **state) {
    (void)state;
    rt_model *m = load("llama");
    int32_t prompt[40], out[MAX_NEW];
    random_ids(prompt, 40, m->cfg.vocab_size, 5);
    rt_gen_session *a, *b;
    assert_int_equal(rt_gen_session_new(m, 32, &a), RT_OK);
    assert_int_equal(rt_gen_session_new(m, 64, &b), RT_OK);
    rt_gen_params gp = rt_gen_params_default();
    gp.max_new_tokens = 4;
    int n_out[2];
    assert_int_equal(rt_gen_session_generate(a, prompt, 40, &gp, out, n_out), RT_ERR_ARG);
    assert_non_null(strstr(rt_errmsg(), "positions"));
    assert_int_equal(rt_gen_session_generate(a, prompt, 0, &gp, out, n_out), RT_ERR_ARG);
    rt_gen_session *twice[2] = {b, b};
    const int32_t *pp[2] = {prompt, prompt};
    int np[2] = {8, 8};
    rt_gen_params gps[2] = {gp, gp};
    int32_t o2[2][MAX_NEW], *outs[2] = {o2[0], o2[1]};
    assert_int_equal(rt_generate_batch(twice, 2, pp, np, gps, outs, n_out), RT_ERR_ARG);
    assert_non_null(strstr(rt_errmsg(), "share one session"));
    int32_t bad[2] = {1, m->cfg.vocab_size};
    assert_int_equal(rt_gen_session_generate(b, bad, 2, &gp, out, n_out), RT_ERR_ARG);
    assert_non_null(strstr(rt_errmsg(), "outside the vocabulary"));
    assert_int_equal(rt_gen_session_set_bf16(b, 1) == RT_OK, m->proj_bf16 != NULL);
    /* still usable */
    assert_int_equal(rt_gen_session_generate(b, prompt, 8, &gp, out, n_out), RT_OK);
    assert_int_equal(n_out[0], 4);
    rt_gen_session_free(a);
    rt_gen_session_free(b);
    rt_model_free(m);
}

/* bf16 weights (where the build has oneDNN to make the copies): greedy tokens as in float32 on this
 * fixture, logits within bf16 rounding. */
static void test_bf16_weights(void **state) {
    (void)state;
    rt_model *m = load("tied");
    if (rt_model_set_base_dtype(m, RT_BASE_BF16) != RT_OK) {
        printf("skipped: %s\n", rt_errmsg());
        rt_model_free(m);
        return;
    }
    int32_t prompt[16];
    random_ids(prompt, 16, m->cfg.vocab_size, 21);
    rt_gen_session *s32, *s16;
    assert_int_equal(rt_gen_session_new(m, 64, &s32), RT_OK);
    assert_int_equal(rt_gen_session_new(m, 64, &s16), RT_OK);
    assert_int_equal(rt_gen_session_set_bf16(s16, 1), RT_OK);
    rt_gen_params gp = rt_gen_params_default();
    gp.max_new_tokens = 1;
    int32_t a, b;
    int n;
    assert_int_equal(rt_gen_session_generate(s32, prompt, 16, &gp, &a, &n), RT_OK);
    assert_int_equal(rt_gen_session_generate(s16, prompt, 16, &gp, &b, &n), RT_OK);
    assert_int_equal(a, b);
    /* the logits through the forward pass itself: close to float32, and not the same bits (the copies
     * are used) */
    int V = m->cfg.vocab_size;
    float *l32 = malloc(sizeof(float) * V), *l16 = malloc(sizeof(float) * V);
    rt_kv_cache c32, c16;
    assert_int_equal(rt_kv_cache_init(&c32, m, 32), RT_OK);
    assert_int_equal(rt_kv_cache_init(&c16, m, 32), RT_OK);
    rt_gen_work w32 = {0}, w16 = {.bf16 = 1};
    rt_gen_seq q32 = {&c32, NULL, prompt, 16, l32}, q16 = {&c16, NULL, prompt, 16, l16};
    assert_int_equal(rt_gen_forward(m, &w32, &q32, 1), RT_OK);
    assert_int_equal(rt_gen_forward(m, &w16, &q16, 1), RT_OK);
    double d = 0, mag = 0;
    for (int i = 0; i < V; i++) {
        double e = l32[i] > l16[i] ? l32[i] - l16[i] : l16[i] - l32[i];
        d = e > d ? e : d;
        mag = (l32[i] > 0 ? l32[i] : -l32[i]) > mag ? (l32[i] > 0 ? l32[i] : -l32[i]) : mag;
    }
    if (d == 0.0 || d > 0.02 * mag + 1e-3) fail_msg("bf16 logits differ from float32 by %g (largest logit %g)", d, mag);
    free(l32), free(l16);
    rt_kv_cache_free(&c32), rt_kv_cache_free(&c16);
    rt_gen_work_free(&w32), rt_gen_work_free(&w16);
    rt_gen_session_free(s32);
    rt_gen_session_free(s16);
    rt_model_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_equals_single), cmocka_unit_test(test_logits_bitwise),
        cmocka_unit_test(test_prefix_reuse),        cmocka_unit_test(test_sampled_and_eos),
        cmocka_unit_test(test_errors),              cmocka_unit_test(test_bf16_weights),
        cmocka_unit_test(test_cache_growth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
