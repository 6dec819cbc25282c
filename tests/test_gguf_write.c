/* test_gguf_write.c: the GGUF writer against the format's specification (a small independent parser
 * here walks every byte), Q8_0 against a brute-force quantizer with ggml's rounding, the Q/K row
 * permutation against the two rope conventions it bridges, the adapter exporter's alpha rule, and bad
 * input. (tools/check_gguf_export.py checks the same files with the `gguf` package and llama.cpp.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/gguf_write_internal.h"
#include "retrace.h"

/* ---- a minimal reader, written from the specification ---- */

typedef struct {
    const uint8_t *p, *end;
} cur;

static uint64_t rd(cur *c, int n) {
    assert_true(c->p + n <= c->end);
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v |= (uint64_t)c->p[i] << (8 * i);
    c->p += n;
    return v;
}

/* Skips a value of type t; returns the key's float value for F32 (else 0). */
static double skip_value(cur *c, uint32_t t) {
    static const int size[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    if (t == 8) c->p += rd(c, 8);
    else if (t == 9) {
        uint32_t e = (uint32_t)rd(c, 4);
        uint64_t n = rd(c, 8);
        for (uint64_t i = 0; i < n; i++) skip_value(c, e);
    } else if (t == 6) {
        uint32_t bits = (uint32_t)rd(c, 4);
        float f;
        memcpy(&f, &bits, 4);
        return f;
    } else {
        assert_true(t < 13 && size[t]);
        rd(c, size[t]);
    }
    return 0;
}

typedef struct {
    uint64_t n_tensors, n_kv;
    size_t data_start;
    char names[8][64];
    uint64_t ne[8][4], offset[8];
    uint32_t n_dims[8], type[8];
    double alpha;
} parsed;

static void parse_file(const uint8_t *buf, size_t len, parsed *out) {
    cur c = {buf, buf + len};
    memset(out, 0, sizeof *out);
    assert_memory_equal(buf, "GGUF", 4);
    c.p += 4;
    assert_int_equal(rd(&c, 4), 3);
    out->n_tensors = rd(&c, 8);
    out->n_kv = rd(&c, 8);
    for (uint64_t i = 0; i < out->n_kv; i++) {
        uint64_t kl = rd(&c, 8);
        char key[128] = {0};
        memcpy(key, c.p, kl < 127 ? kl : 127);
        c.p += kl;
        double v = skip_value(&c, (uint32_t)rd(&c, 4));
        if (!strcmp(key, "adapter.lora.alpha")) out->alpha = v;
    }
    for (uint64_t i = 0; i < out->n_tensors && i < 8; i++) {
        uint64_t nl = rd(&c, 8);
        memcpy(out->names[i], c.p, nl < 63 ? nl : 63);
        c.p += nl;
        out->n_dims[i] = (uint32_t)rd(&c, 4);
        for (uint32_t d = 0; d < out->n_dims[i]; d++) out->ne[i][d] = rd(&c, 8);
        out->type[i] = (uint32_t)rd(&c, 4);
        out->offset[i] = rd(&c, 8);
    }
    size_t pos = (size_t)(c.p - buf);
    out->data_start = (pos + 31) / 32 * 32;
}

static char *tmp_path(const char *name) {
    static char buf[256];
    snprintf(buf, sizeof buf, "/tmp/rt_gguf_write_%d_%s", (int)getpid(), name);
    return buf;
}

/* ---- container layout ---- */

static void test_layout(void **state) {
    (void)state;
    rt_gguf_writer *w = rt_gguf_writer_new();
    const char *strs[] = {"a", "bc", ""};
    int32_t ints[] = {1, -2, 3};
    float m[6] = {1, 2, 3, 4, 5, 6}, v[5] = {0.5f, -1, 2, 65504, -0.25f};
    int64_t ne_m[2] = {3, 2}, ne_v[1] = {5};
    assert_int_equal(rt_gguf_writer_set_u32(w, "general.alignment", 64), RT_ERR_UNSUPPORTED);
    assert_int_equal(rt_gguf_writer_set_u32(w, "general.alignment", 32), RT_OK);
    assert_int_equal(rt_gguf_writer_set_str(w, "general.name", "t"), RT_OK);
    assert_int_equal(rt_gguf_writer_set_str_array(w, "x.strs", strs, 3), RT_OK);
    assert_int_equal(rt_gguf_writer_set_i32_array(w, "x.ints", ints, 3), RT_OK);
    assert_int_equal(rt_gguf_writer_set_bool(w, "x.flag", 1), RT_OK);
    assert_int_equal(rt_gguf_writer_set_u32(w, "general.name", 1), RT_ERR_ARG); /* duplicate key */
    assert_non_null(strstr(rt_errmsg(), "general.name"));
    assert_int_equal(rt_gguf_writer_add_f32(w, "m", 2, ne_m, m, RT_GGML_F32), RT_OK);
    assert_int_equal(rt_gguf_writer_add_f32(w, "v", 1, ne_v, v, RT_GGML_F16), RT_OK);
    assert_int_equal(rt_gguf_writer_add_f32(w, "m", 1, ne_v, v, RT_GGML_F32), RT_ERR_ARG);
    assert_int_equal(rt_gguf_writer_add_f32(w, "q", 1, ne_v, v, RT_GGML_Q8_0), RT_ERR_ARG); /* 5 % 32 */
    const char *path = tmp_path("layout.gguf");
    assert_int_equal(rt_gguf_writer_save(w, path), RT_OK);
    rt_gguf_writer_free(w);
    char *buf;
    size_t len;
    assert_int_equal(rt_file_read(path, &buf, &len), RT_OK);
    parsed p;
    parse_file((const uint8_t *)buf, len, &p);
    assert_int_equal(p.n_kv, 5);
    assert_int_equal(p.n_tensors, 2);
    assert_string_equal(p.names[0], "m");
    assert_int_equal(p.ne[0][0], 3), assert_int_equal(p.ne[0][1], 2), assert_int_equal(p.type[0], 0);
    assert_int_equal(p.type[1], 1);
    /* 24 bytes of F32 round up to the next 32-byte boundary; the F16 tensor's 10 bytes are padded too. */
    assert_int_equal(p.offset[0], 0), assert_int_equal(p.offset[1], 32);
    assert_int_equal(len, p.data_start + 64);
    assert_memory_equal(buf + p.data_start, m, sizeof m);
    for (int i = 0; i < 5; i++) {
        uint16_t h;
        memcpy(&h, buf + p.data_start + 32 + 2 * i, 2);
        assert_true(rt_f16_to_f32(h) == v[i]);
    }
    free(buf);
    unlink(path);
}

/* ---- Q8_0 ---- */

static void test_q8_0(void **state) {
    (void)state;
    float x[3 * 32];
    for (int j = 0; j < 32; j++) {
        x[j] = (float)j - 15.5f;        /* amax 15.5 */
        x[32 + j] = 0.0f;               /* all zero: d = 0, q = 0 */
        x[64 + j] = (float)(j % 8) - 3.5f; /* halves */
    }
    x[64] = 127.0f; /* amax 127, so d = 1 and x / d keeps the halves: they round away from zero */
    uint8_t q[3 * 34];
    rt_gguf_quantize_q8_0(x, 96, q);
    for (int b = 0; b < 3; b++) {
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[32 * b + j]));
        float d = amax / 127.0f;
        uint16_t dh;
        memcpy(&dh, q + 34 * b, 2);
        assert_int_equal(dh, rt_f32_to_f16(d));
        for (int j = 0; j < 32; j++) {
            double r = d == 0 ? 0 : (double)x[32 * b + j] / d;
            int want = (int)(r < 0 ? -floor(-r + 0.5) : floor(r + 0.5));
            assert_int_equal((int8_t)q[34 * b + 2 + j], want);
        }
    }
    assert_int_equal((int8_t)q[2], -127), assert_int_equal((int8_t)q[2 + 31], 127);
    assert_int_equal((int8_t)q[68 + 2 + 1], -3); /* -2.5 -> -3 */
    assert_int_equal((int8_t)q[68 + 2 + 6], 3);  /* 2.5 -> 3 */
}

/* ---- the Q/K permutation bridges the two rope conventions ---- */

/* llama.cpp's rope for the `llama` arch: adjacent pairs (2j, 2j+1) rotate by pos * inv_freq[j]. */
static void rope_adjacent(float *x, const float *inv_freq, int n_heads, int hd, int pos) {
    for (int h = 0; h < n_heads; h++)
        for (int j = 0; j < hd / 2; j++) {
            float a = pos * inv_freq[j], c = cosf(a), s = sinf(a);
            float *p = x + h * hd + 2 * j, x0 = p[0], x1 = p[1];
            p[0] = x0 * c - x1 * s, p[1] = x0 * s + x1 * c;
        }
}

static void test_permutation_matches_rope(void **state) {
    (void)state;
    enum { NH = 3, HD = 8, ROWS = NH * HD, POS = 5 };
    rt_rope_params rp = {RT_ROPE_DEFAULT, 10000.0, 1, 1, 1, 1};
    float inv[HD / 2], cos_t[HD / 2], sin_t[HD / 2], q[ROWS], hf[ROWS], ll[ROWS], hf_perm[ROWS];
    rt_rope_inv_freq(inv, HD, &rp);
    rt_rope_tables(cos_t, sin_t, inv, HD, POS, 1);
    for (int i = 0; i < ROWS; i++) q[i] = sinf(1.7f * i + 0.3f);
    memcpy(hf, q, sizeof q);
    rt_rope_forward(hf, cos_t, sin_t, 1, 1, NH, HD); /* transformers: rotate halves */
    rt_gguf_permute_rows(ll, q, ROWS, 1, NH);       /* the rows as the GGUF holds them */
    rope_adjacent(ll, inv, NH, HD, POS);
    rt_gguf_permute_rows(hf_perm, hf, ROWS, 1, NH);
    for (int i = 0; i < ROWS; i++) assert_float_equal(ll[i], hf_perm[i], 1e-5);
}

/* ---- exporters ---- */

static rt_model *tiny_model(rt_arch arch) {
    rt_model_config c = {0};
    c.arch = arch, c.hidden_size = 32, c.intermediate_size = 64, c.n_layers = 1, c.n_heads = 2, c.n_kv_heads = 1;
    c.head_dim = 16, c.vocab_size = 40, c.max_position_embeddings = 64, c.rms_norm_eps = 1e-5f;
    c.rope.kind = RT_ROPE_DEFAULT, c.rope.theta = 10000, c.bos_token_id = -1, c.eos_token_id = -1;
    c.attention_bias = arch == RT_ARCH_QWEN2;
    rt_model *m = NULL;
    assert_int_equal(rt_model_new_random(&c, 1, &m), RT_OK);
    return m;
}

static void test_lora_alpha_rule(void **state) {
    (void)state;
    rt_model *m = tiny_model(RT_ARCH_LLAMA);
    const char *path = tmp_path("lora.gguf");
    assert_int_equal(rt_gguf_export_lora(m, path, NULL), RT_ERR_ARG); /* no adapter */
    rt_lora_config lc = rt_lora_config_default();
    lc.r = 4, lc.alpha = 8, lc.rslora = 1, lc.proj_mask = 1u << RT_PROJ_Q;
    assert_int_equal(rt_lora_attach(m, &lc, 3), RT_OK);
    for (int rs = 1; rs >= 0; rs--) {
        m->lora_cfg.rslora = rs;
        assert_int_equal(rt_gguf_export_lora(m, path, NULL), RT_OK);
        char *buf;
        size_t len;
        assert_int_equal(rt_file_read(path, &buf, &len), RT_OK);
        parsed p;
        parse_file((const uint8_t *)buf, len, &p);
        assert_float_equal(p.alpha, rs ? 8 * 2.0 : 8.0, 1e-6); /* alpha * sqrt(r) for rsLoRA */
        assert_int_equal(p.n_tensors, 2);
        assert_string_equal(p.names[0], "blk.0.attn_q.weight.lora_a");
        assert_int_equal(p.ne[0][0], 32), assert_int_equal(p.ne[0][1], 4); /* {in, r} */
        assert_string_equal(p.names[1], "blk.0.attn_q.weight.lora_b");
        assert_int_equal(p.ne[1][0], 4), assert_int_equal(p.ne[1][1], 32); /* {r, out} */
        free(buf);
    }
    /* A model with an adapter is not written as a model: it must be merged first. */
    assert_int_equal(rt_gguf_export_model(m, path, NULL), RT_ERR_ARG);
    rt_model_free(m);
    unlink(path);
}

static void test_model_bad_input(void **state) {
    (void)state;
    rt_model *m = tiny_model(RT_ARCH_QWEN2);
    rt_gguf_export_params p = rt_gguf_export_params_default();
    p.tokenizer = "/nonexistent-dir";
    assert_int_equal(rt_gguf_export_model(m, tmp_path("bad.gguf"), &p), RT_ERR_IO);
    assert_non_null(strstr(rt_errmsg(), "/nonexistent-dir/tokenizer.json"));
    p.tokenizer = NULL;
    /* An unwritable destination fails, naming it, and leaves nothing behind. */
    assert_int_equal(rt_gguf_export_model(m, "/nonexistent-dir/x.gguf", &p), RT_ERR_IO);
    assert_non_null(strstr(rt_errmsg(), "/nonexistent-dir/x.gguf"));
    assert_int_equal(rt_gguf_export_model(m, tmp_path("ok.gguf"), &p), RT_OK);
    rt_ggml_type t;
    assert_int_equal(rt_gguf_store_parse("Q8_0", &t), RT_OK);
    assert_int_equal(t, RT_GGML_Q8_0);
    assert_int_equal(rt_gguf_store_parse("q4_k", &t), RT_ERR_ARG);
    rt_model_free(m);
    unlink(tmp_path("ok.gguf"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_q8_0),
        cmocka_unit_test(test_permutation_matches_rope),
        cmocka_unit_test(test_lora_alpha_rule),
        cmocka_unit_test(test_model_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
