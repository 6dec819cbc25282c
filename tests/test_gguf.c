/* test_gguf.c: the GGUF reader against files the `gguf` Python package wrote (tests/fixtures/gguf,
 * made by tools/make_gguf_fixtures.py): every metadata type, dequantization of every supported tensor
 * type bit for bit against gguf.quants.dequantize, tiny llama and qwen2 models equal to the same
 * weights in Hugging Face layout (llama's Q/K permutation undone), and bad input of every kind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"
#include "retrace.h"
#include "retrace/gguf.h"

#define GG_DIR RT_FIXTURES_DIR "/gguf"

static rt_gguf *open_ok(const char *path) {
    rt_gguf *g = NULL;
    rt_status s = rt_gguf_open(path, &g);
    if (s != RT_OK) fail_msg("%s", rt_errmsg());
    return g;
}

static int64_t get_int(const rt_gguf *g, const char *key) {
    int64_t v = 0;
    assert_int_equal(rt_gguf_get_int(g, key, &v), RT_OK);
    return v;
}

static void test_metadata(void **state) {
    (void)state;
    rt_gguf *g = open_ok(GG_DIR "/meta.gguf");
    assert_int_equal(rt_gguf_version(g), 3);
    assert_int_equal(rt_gguf_alignment(g), 64);
    assert_int_equal(get_int(g, "t.u8"), 200);
    assert_int_equal(get_int(g, "t.i8"), -100);
    assert_int_equal(get_int(g, "t.u16"), 60000);
    assert_int_equal(get_int(g, "t.i16"), -30000);
    assert_int_equal(get_int(g, "t.u32"), 4000000000LL);
    assert_int_equal(get_int(g, "t.i32"), -2000000000LL);
    assert_int_equal(get_int(g, "t.u64"), 1LL << 40);
    assert_int_equal(get_int(g, "t.i64"), -(1LL << 40));
    double f;
    assert_int_equal(rt_gguf_get_float(g, "t.f32", &f), RT_OK);
    assert_true(f == 1.5);
    assert_int_equal(rt_gguf_get_float(g, "t.f64", &f), RT_OK);
    assert_true(f == -2.25);
    int b;
    assert_int_equal(rt_gguf_get_bool(g, "t.bool", &b), RT_OK);
    assert_int_equal(b, 1);
    const char *s;
    size_t n;
    assert_int_equal(rt_gguf_get_str(g, "t.str", &s, &n), RT_OK);
    assert_int_equal(n, strlen("héllo wörld ✓"));
    assert_memory_equal(s, "héllo wörld ✓", n);
    /* Wrong types and missing keys name the key. */
    assert_int_equal(rt_gguf_get_str(g, "t.u8", &s, &n), RT_ERR_FORMAT);
    assert_non_null(strstr(rt_errmsg(), "t.u8"));
    assert_int_equal(rt_gguf_get_int(g, "no.such.key", &(int64_t){0}), RT_ERR_NOT_FOUND);
    assert_non_null(strstr(rt_errmsg(), "no.such.key"));
    rt_gguf_close(g);
}

/* Collects an array's integer (or string) elements as text, "1,2|3|4,5,6" for nesting. */
static void array_text(const rt_gguf_value *arr, char *out, size_t cap) {
    rt_gguf_iter it;
    rt_gguf_value v;
    rt_gguf_iter_init(&it, arr);
    size_t len = strlen(out);
    int first = 1;
    while (rt_gguf_iter_next(&it, &v)) {
        if (!first) len += (size_t)snprintf(out + len, cap - len, "%s", arr->elem == RT_GGUF_ARRAY ? "|" : ",");
        first = 0;
        int64_t i;
        double d;
        if (v.type == RT_GGUF_ARRAY) array_text(&v, out, cap);
        else if (v.type == RT_GGUF_STRING) snprintf(out + len, cap - len, "%.*s", (int)v.n, (const char *)v.data);
        else if (rt_gguf_value_int(&v, &i) == RT_OK) snprintf(out + len, cap - len, "%lld", (long long)i);
        else if (rt_gguf_value_float(&v, &d) == RT_OK) snprintf(out + len, cap - len, "%g", d);
        len = strlen(out);
    }
}

static void check_array(const rt_gguf *g, const char *key, const char *want) {
    rt_gguf_value arr;
    assert_int_equal(rt_gguf_get_array(g, key, -1, &arr), RT_OK);
    char text[256] = "";
    array_text(&arr, text, sizeof text);
    assert_string_equal(text, want);
}

static void test_arrays(void **state) {
    (void)state;
    rt_gguf *g = open_ok(GG_DIR "/meta.gguf");
    check_array(g, "t.arr.i8", "-1,2,-3");
    check_array(g, "t.arr.u16", "1,2,65535");
    check_array(g, "t.arr.f32", "0.5,-0.25");
    check_array(g, "t.arr.f64", "1e+300");
    check_array(g, "t.arr.bool", "1,0,1");
    check_array(g, "t.arr.i64", "-5,1125899906842624");
    check_array(g, "t.arr.str", "a,,ünï,last");
    check_array(g, "t.arr.nested", "1,2|3|4,5,6");
    check_array(g, "t.arr.nested_str", "x,yy|zzz");
    rt_gguf_value arr;
    assert_int_equal(rt_gguf_get_array(g, "t.arr.str", RT_GGUF_U32, &arr), RT_ERR_FORMAT);
    /* Tensors: shapes in ggml order, data aligned to 64 inside the file. */
    const rt_gguf_tensor *t = rt_gguf_find_tensor(g, "b");
    assert_non_null(t);
    assert_int_equal(t->type, RT_GGML_F16);
    assert_int_equal(t->n_dims, 2);
    assert_int_equal(t->ne[0], 3);
    assert_int_equal(t->ne[1], 2);
    assert_int_equal(t->offset % 64, 0);
    float vals[6];
    assert_int_equal(rt_gguf_tensor_to_f32(g, t, vals, 6), RT_OK);
    for (int i = 0; i < 6; i++) assert_true(vals[i] == (float)i);
    assert_int_equal(rt_gguf_find_tensor(g, "c")->n_dims, 3);
    assert_int_equal(rt_gguf_find_tensor(g, "c")->ne[0], 32); /* numpy (1,1,32) is ggml [32,1,1] */
    rt_gguf_close(g);
}

static int same_bits(float a, float b) {
    uint32_t x, y;
    memcpy(&x, &a, 4);
    memcpy(&y, &b, 4);
    return x == y || (isnan(a) && isnan(b));
}

static void test_dequant_reference(void **state) {
    (void)state;
    rt_gguf *g = open_ok(GG_DIR "/dequant.gguf");
    int checked = 0;
    for (int i = 0; i < rt_gguf_tensor_count(g); i++) {
        const rt_gguf_tensor *t = rt_gguf_tensor_at(g, i);
        if (strstr(t->name, ".ref")) continue;
        char refname[64];
        snprintf(refname, sizeof refname, "%s.ref", t->name);
        const rt_gguf_tensor *r = rt_gguf_find_tensor(g, refname);
        assert_non_null(r);
        assert_int_equal(r->numel, t->numel);
        float *got = malloc((size_t)t->numel * sizeof *got);
        assert_int_equal(rt_gguf_tensor_to_f32(g, t, got, t->numel), RT_OK);
        const float *want = r->data;
        int64_t bad = 0;
        for (int64_t k = 0; k < t->numel; k++) bad += !same_bits(got[k], want[k]);
        if (bad) print_message("%s: %lld of %lld values differ\n", t->name, (long long)bad, (long long)t->numel);
        assert_int_equal(bad, 0);
        free(got);
        checked++;
    }
    assert_int_equal(checked, 11); /* F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q4_K Q5_K Q6_K */
    rt_gguf_close(g);
}

static void compare_models(const char *gguf, const char *hf_dir) {
    rt_model *a = NULL, *b = NULL;
    if (rt_model_load(gguf, &a) != RT_OK) fail_msg("%s", rt_errmsg());
    if (rt_model_load(hf_dir, &b) != RT_OK) fail_msg("%s", rt_errmsg());
    assert_memory_equal(&a->cfg, &b->cfg, sizeof a->cfg);
    int n = rt_model_tensor_count(a);
    rt_tensor_ref *ra = calloc((size_t)n, sizeof *ra), *rb = calloc((size_t)n, sizeof *rb);
    rt_model_tensors(a, ra);
    rt_model_tensors(b, rb);
    for (int i = 0; i < n; i++) {
        size_t numel = (size_t)ra[i].shape[0] * (ra[i].ndim == 2 ? (size_t)ra[i].shape[1] : 1);
        if (memcmp(ra[i].data, rb[i].data, numel * sizeof(float)) != 0) fail_msg("%s: tensor %s differs", gguf, ra[i].name);
    }
    free(ra);
    free(rb);
    rt_model_free(a);
    rt_model_free(b);
}

static void test_tiny_llama(void **state) {
    (void)state;
    compare_models(GG_DIR "/tiny-llama.gguf", GG_DIR "/tiny-llama-hf");
}

static void test_tiny_qwen2(void **state) {
    (void)state;
    compare_models(GG_DIR "/tiny-qwen2.gguf", GG_DIR "/tiny-qwen2-hf");
}

/* ---- bad input ---- */

static uint8_t *read_all(const char *path, size_t *len) {
    char *data;
    assert_int_equal(rt_file_read(path, &data, len), RT_OK);
    return (uint8_t *)data;
}

static void expect_fail(const uint8_t *buf, size_t len, rt_status code, const char *needle) {
    rt_gguf *g = NULL;
    rt_status s = rt_gguf_open_buffer(buf, len, "bad.gguf", &g);
    if (s == RT_OK) fail_msg("accepted a bad file (expected '%s')", needle);
    assert_int_equal(s, code);
    assert_null(g);
    assert_non_null(strstr(rt_errmsg(), "bad.gguf"));
    if (!strstr(rt_errmsg(), needle)) fail_msg("message '%s' lacks '%s'", rt_errmsg(), needle);
}

/* Offset of the bytes of `what` (length-prefixed as GGUF writes names) in buf. */
static size_t find_name(const uint8_t *buf, size_t len, const char *what) {
    size_t n = strlen(what);
    uint8_t pat[80];
    uint64_t n64 = n;
    memcpy(pat, &n64, 8);
    memcpy(pat + 8, what, n);
    for (size_t i = 0; i + 8 + n <= len; i++)
        if (memcmp(buf + i, pat, 8 + n) == 0) return i + 8 + n;
    fail_msg("'%s' not found", what);
    return 0;
}

static void test_truncated_every_prefix(void **state) {
    (void)state;
    size_t len;
    uint8_t *full = read_all(GG_DIR "/meta.gguf", &len);
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *buf = malloc(cut + 1); /* exact size, so ASan sees any overread */
        memcpy(buf, full, cut);
        rt_gguf *g = NULL;
        rt_status s = rt_gguf_open_buffer(buf, cut, "cut.gguf", &g);
        if (s == RT_OK) fail_msg("a file cut to %zu of %zu bytes was accepted", cut, len);
        assert_non_null(strstr(rt_errmsg(), "cut.gguf"));
        free(buf);
    }
    free(full);
}

static void test_bad_header(void **state) {
    (void)state;
    size_t len;
    uint8_t *buf = read_all(GG_DIR "/meta.gguf", &len);
    buf[0] = 'X';
    expect_fail(buf, len, RT_ERR_FORMAT, "bad magic");
    buf[0] = 'G';
    uint32_t v = 1;
    memcpy(buf + 4, &v, 4);
    expect_fail(buf, len, RT_ERR_UNSUPPORTED, "version 1");
    v = 4;
    memcpy(buf + 4, &v, 4);
    expect_fail(buf, len, RT_ERR_UNSUPPORTED, "version 4");
    /* Version 2 has the same layout and is read. */
    v = 2;
    memcpy(buf + 4, &v, 4);
    rt_gguf *g;
    assert_int_equal(rt_gguf_open_buffer(buf, len, "v2.gguf", &g), RT_OK);
    assert_int_equal(rt_gguf_version(g), 2);
    rt_gguf_close(g);
    uint64_t huge = 1ULL << 50;
    memcpy(buf + 16, &huge, 8); /* metadata count */
    expect_fail(buf, len, RT_ERR_FORMAT, "metadata entries");
    free(buf);
}

static void test_absurd_lengths(void **state) {
    (void)state;
    size_t len;
    uint8_t *buf = read_all(GG_DIR "/meta.gguf", &len);
    size_t at = find_name(buf, len, "t.arr.str"); /* then type u32, element type u32, count u64 */
    uint64_t huge = 1ULL << 60, old;
    memcpy(&old, buf + at + 8, 8);
    memcpy(buf + at + 8, &huge, 8);
    expect_fail(buf, len, RT_ERR_FORMAT, "t.arr.str");
    memcpy(buf + at + 8, &old, 8);
    at = find_name(buf, len, "t.str"); /* then type, string length */
    memcpy(buf + at + 4, &huge, 8);
    expect_fail(buf, len, RT_ERR_FORMAT, "t.str");
    free(buf);
}

static void test_bad_tensors(void **state) {
    (void)state;
    size_t len;
    uint8_t *buf = read_all(GG_DIR "/meta.gguf", &len);
    uint8_t *orig = malloc(len);
    memcpy(orig, buf, len);
    size_t at = find_name(buf, len, "b"); /* n_dims u32, ne[0] u64, ne[1] u64, type u32, offset u64 */
    uint64_t ne = 40;
    memcpy(buf + at + 4, &ne, 8);
    expect_fail(buf, len, RT_ERR_FORMAT, "tensor 'b'");
    memcpy(buf, orig, len);
    uint32_t type = 99;
    memcpy(buf + at + 20, &type, 4);
    expect_fail(buf, len, RT_ERR_UNSUPPORTED, "tensor 'b': unknown tensor type 99");
    memcpy(buf, orig, len);
    type = RT_GGML_Q4_0; /* 3 columns are not a whole block */
    memcpy(buf + at + 20, &type, 4);
    expect_fail(buf, len, RT_ERR_FORMAT, "not a multiple");
    memcpy(buf, orig, len);
    uint64_t off = 1 << 20;
    memcpy(buf + at + 24, &off, 8);
    expect_fail(buf, len, RT_ERR_FORMAT, "outside the file");
    memcpy(buf, orig, len);
    off = 65; /* not a multiple of the alignment */
    memcpy(buf + at + 24, &off, 8);
    expect_fail(buf, len, RT_ERR_FORMAT, "alignment");
    /* The last tensor's data cut short. */
    expect_fail(orig, len - 4, RT_ERR_FORMAT, "tensor 'c'");
    free(orig);
    free(buf);
}

static void test_model_errors(void **state) {
    (void)state;
    rt_model *m = NULL;
    assert_int_equal(rt_model_load(GG_DIR "/dequant.gguf", &m), RT_ERR_UNSUPPORTED);
    assert_non_null(strstr(rt_errmsg(), "architecture 'none'"));
    assert_non_null(strstr(rt_errmsg(), "dequant.gguf"));
    assert_int_equal(rt_model_load(GG_DIR "/missing.gguf", &m), RT_ERR_IO);
    assert_non_null(strstr(rt_errmsg(), "missing.gguf"));
    assert_null(m);
    assert_int_equal(rt_gguf_dequantize(RT_GGML_Q2_K, "", NULL, 0), RT_ERR_UNSUPPORTED);
    assert_non_null(strstr(rt_errmsg(), "Q2_K"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metadata),          cmocka_unit_test(test_arrays),
        cmocka_unit_test(test_dequant_reference), cmocka_unit_test(test_tiny_llama),
        cmocka_unit_test(test_tiny_qwen2),        cmocka_unit_test(test_truncated_every_prefix),
        cmocka_unit_test(test_bad_header),        cmocka_unit_test(test_absurd_lengths),
        cmocka_unit_test(test_bad_tensors),       cmocka_unit_test(test_model_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
