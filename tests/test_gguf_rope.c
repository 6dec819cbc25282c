/* test_gguf_rope.c: llama3 rope scaling through GGUF. llama.cpp stores it only as the tensor
 * rope_freqs.weight (per-frequency divisors); the reader recovers the llama3 parameters from it.
 * - the llama3 fixture model (tests/fixtures/models/llama: factor 8, low 1, high 4, original 64)
 *   round-trips through `retrace export --gguf` and rt_model_load with equal logits at every position;
 * - rope_freqs written with llama.cpp's converter formula (convert_hf_to_gguf.py, recomputed here in
 *   double) for Llama 3.1 and 3.2's real head dim, theta and factors gives back those parameters;
 * - factors that no llama3 scaling gives, and a tensor of the wrong length, are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "retrace.h"
#include "retrace/gguf.h"
#include "retrace/gguf_write.h"

#define T_SEQ 120 /* past original_max_position_embeddings (64), within max_position_embeddings (128) */

static void tmp_path(char *buf, size_t cap, const char *name) {
    const char *dir = getenv("TMPDIR");
    snprintf(buf, cap, "%s/rt_gguf_rope_%d_%s", dir ? dir : "/tmp", (int)getpid(), name);
}

static double max_abs_diff(const float *a, const float *b, size_t n) {
    double d = 0;
    for (size_t i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - b[i]));
    return d;
}

static void test_fixture_round_trip(void **state) {
    (void)state;
    const char *dir = RT_FIXTURES_DIR "/models/llama/model";
    char out[512], cmd[1536];
    tmp_path(out, sizeof out, "llama3.gguf");
    snprintf(cmd, sizeof cmd, "'%s' export --gguf '%s' --model '%s' > /dev/null", RT_BINARY, out, dir);
    assert_int_equal(system(cmd), 0);
    rt_model *hf = NULL, *gg = NULL;
    if (rt_model_load(dir, &hf) != RT_OK || rt_model_load(out, &gg) != RT_OK) fail_msg("%s", rt_errmsg());
    const rt_rope_params *a = &hf->cfg.rope, *b = &gg->cfg.rope;
    assert_int_equal(a->kind, RT_ROPE_LLAMA3);
    assert_int_equal(b->kind, RT_ROPE_LLAMA3);
    print_message("config: factor %g low %g high %g original %g; from the GGUF: %g %g %g %g\n", a->factor, a->low_freq_factor,
                  a->high_freq_factor, a->original_max_pos, b->factor, b->low_freq_factor, b->high_freq_factor, b->original_max_pos);
    /* Whole numbers come back exactly, so `retrace convert` writes the same config. */
    assert_true(b->factor == a->factor && b->low_freq_factor == a->low_freq_factor);
    assert_true(b->high_freq_factor == a->high_freq_factor && b->original_max_pos == a->original_max_pos);
    int32_t ids[T_SEQ];
    for (int t = 0; t < T_SEQ; t++) ids[t] = (t * 37 + 11) % hf->cfg.vocab_size;
    float loss;
    size_t n = (size_t)T_SEQ * hf->cfg.vocab_size;
    assert_int_equal(rt_model_forward(hf, ids, NULL, 1, T_SEQ, &loss), RT_OK);
    float *want = malloc(n * sizeof *want);
    memcpy(want, rt_model_logits(hf), n * sizeof *want);
    assert_int_equal(rt_model_forward(gg, ids, NULL, 1, T_SEQ, &loss), RT_OK);
    double d = max_abs_diff(rt_model_logits(gg), want, n);
    print_message("logits at %d positions: largest difference %.3g\n", T_SEQ, d);
    /* The weights are F32 both ways; the rope frequencies may differ in the last bit. */
    assert_true(d < 1e-5);
    free(want);
    rt_model_free(hf);
    rt_model_free(gg);
    unlink(out);
}

/* A minimal llama GGUF: the metadata the reader needs, a 4-row embedding and rope_freqs. */
static void write_model(const char *path, int head_dim, double theta, const float *freqs, int n_freqs) {
    rt_gguf_writer *w = rt_gguf_writer_new();
    assert_int_equal(rt_gguf_writer_set_str(w, "general.architecture", "llama"), RT_OK);
    assert_int_equal(rt_gguf_writer_set_u32(w, "llama.block_count", 1), RT_OK);
    assert_int_equal(rt_gguf_writer_set_u32(w, "llama.embedding_length", (uint32_t)head_dim), RT_OK);
    assert_int_equal(rt_gguf_writer_set_u32(w, "llama.feed_forward_length", 64), RT_OK);
    assert_int_equal(rt_gguf_writer_set_u32(w, "llama.attention.head_count", 1), RT_OK);
    assert_int_equal(rt_gguf_writer_set_u32(w, "llama.context_length", 131072), RT_OK);
    assert_int_equal(rt_gguf_writer_set_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f), RT_OK);
    assert_int_equal(rt_gguf_writer_set_f32(w, "llama.rope.freq_base", (float)theta), RT_OK);
    float *emb = calloc((size_t)4 * head_dim, sizeof *emb);
    int64_t ne_e[2] = {head_dim, 4}, ne_f[1] = {n_freqs};
    assert_int_equal(rt_gguf_writer_add_f32(w, "token_embd.weight", 2, ne_e, emb, RT_GGML_F32), RT_OK);
    assert_int_equal(rt_gguf_writer_add_f32(w, "rope_freqs.weight", 1, ne_f, freqs, RT_GGML_F32), RT_OK);
    assert_int_equal(rt_gguf_writer_save(w, path), RT_OK);
    rt_gguf_writer_free(w);
    free(emb);
}

/* convert_hf_to_gguf.py's rope factors for llama3 scaling (LlamaModel.generate_extra_tensors). */
static void converter_factors(float *out, int head_dim, double theta, double factor, double low, double high, double orig) {
    for (int i = 0; i < head_dim / 2; i++) {
        double freq = 1.0 / pow(theta, (double)(2 * i) / head_dim), wavelen = 6.283185307179586 / freq;
        if (wavelen < orig / high) out[i] = 1;
        else if (wavelen > orig / low) out[i] = (float)factor;
        else {
            double smooth = (orig / wavelen - low) / (high - low);
            out[i] = (float)(1 / ((1 - smooth) / factor + smooth));
        }
    }
}

static rt_status config_of(const char *path, rt_model_config *c) {
    rt_gguf *g;
    RT_TRY(rt_gguf_open(path, &g));
    rt_status s = rt_gguf_model_config(g, c);
    rt_gguf_close(g);
    return s;
}

static void test_llama31_factors(void **state) {
    (void)state;
    /* Llama 3.1 8B and 3.2 1B: head dim 128 and 64, theta 5e5, factor 8 and 32, low 1, high 4, 8192. */
    static const struct { int hd; double factor; } cases[] = {{128, 8}, {64, 32}, {128, 32}};
    char path[512];
    tmp_path(path, sizeof path, "l31.gguf");
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        float f[64];
        converter_factors(f, cases[k].hd, 500000.0, cases[k].factor, 1, 4, 8192);
        write_model(path, cases[k].hd, 500000.0, f, cases[k].hd / 2);
        rt_model_config c;
        if (config_of(path, &c) != RT_OK) fail_msg("%s", rt_errmsg());
        print_message("head dim %d, factor %g: recovered factor %.6g low %.6g high %.6g original %.6g\n", cases[k].hd, cases[k].factor,
                      c.rope.factor, c.rope.low_freq_factor, c.rope.high_freq_factor, c.rope.original_max_pos);
        assert_int_equal(c.rope.kind, RT_ROPE_LLAMA3);
        assert_true(c.rope.factor == cases[k].factor && c.rope.low_freq_factor == 1);
        assert_true(c.rope.high_freq_factor == 4 && c.rope.original_max_pos == 8192);
    }
    unlink(path);
}

static void test_refused(void **state) {
    (void)state;
    char path[512];
    tmp_path(path, sizeof path, "bad.gguf");
    float f[64];
    converter_factors(f, 128, 500000.0, 8, 1, 4, 8192);
    f[31] *= 1.01f; /* one interpolated factor (29..34) off the line */
    write_model(path, 128, 500000.0, f, 64);
    rt_model_config c;
    assert_int_equal(config_of(path, &c), RT_ERR_UNSUPPORTED);
    print_message("%s\n", rt_errmsg());
    assert_non_null(strstr(rt_errmsg(), "rope_freqs.weight"));
    for (int i = 0; i < 64; i++) f[i] = 1.0f + 0.1f * (float)(i % 3); /* not monotone: LongRoPE-like */
    write_model(path, 128, 500000.0, f, 64);
    assert_int_equal(config_of(path, &c), RT_ERR_UNSUPPORTED);
    write_model(path, 128, 500000.0, f, 32);
    assert_int_equal(config_of(path, &c), RT_ERR_SHAPE);
    print_message("%s\n", rt_errmsg());
    f[0] = -1;
    write_model(path, 128, 500000.0, f, 64);
    assert_int_equal(config_of(path, &c), RT_ERR_FORMAT);
    for (int i = 0; i < 64; i++) f[i] = 1;
    write_model(path, 128, 500000.0, f, 64);
    assert_int_equal(config_of(path, &c), RT_OK);
    assert_int_equal(c.rope.kind, RT_ROPE_DEFAULT);
    unlink(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_round_trip),
        cmocka_unit_test(test_llama31_factors),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
