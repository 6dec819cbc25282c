/* test_safetensors.c: the safetensors reader and writer against files the Python library wrote
 * (tests/fixtures/safetensors, made by tools/make_st_fixtures.py), plus every kind of bad input.
 *
 * Set RT_ST_EXPORT_DIR to keep the files our writer produces; `python3 tools/make_st_fixtures.py
 * --check DIR` then loads them with safetensors and transformers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <ftw.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "retrace.h"

#define ST_DIR RT_FIXTURES_DIR "/safetensors"
#define MIXED ST_DIR "/mixed.safetensors"

/* ---- helpers ---- */

static json_t *g_expected;

static int setup_expected(void **state) {
    (void)state;
    json_error_t err;
    g_expected = json_load_file(ST_DIR "/expected.json", 0, &err);
    return g_expected ? 0 : -1;
}

static int teardown_expected(void **state) {
    (void)state;
    json_decref(g_expected);
    return 0;
}

static json_t *expected(const char *section) { return json_object_get(g_expected, section); }

static float hexf(json_t *v) { return (float)strtod(json_string_value(v), NULL); }

static uint32_t bits_of(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* Exact equality, with NaN equal to NaN. */
static void assert_same_float(float got, float want) {
    if (isnan(want)) assert_true(isnan(got));
    else assert_int_equal(bits_of(got), bits_of(want));
}

static void shape_of(json_t *arr, int *ndim, int64_t *shape) {
    *ndim = (int)json_array_size(arr);
    for (int i = 0; i < *ndim; i++) shape[i] = json_integer_value(json_array_get(arr, (size_t)i));
}

static char *make_tmpdir(void) {
    char tmpl[] = "/tmp/rt_st_XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    return strdup(tmpl);
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static void rm_tree(char *dir) {
    nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

static void write_bytes(const char *path, const void *data, size_t n) {
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, n, fp), n);
    fclose(fp);
}

static void copy_file(const char *from, const char *to) {
    char *data;
    size_t n;
    assert_int_equal(rt_file_read(from, &data, &n), RT_OK);
    write_bytes(to, data, n);
    free(data);
}

/* Writes a safetensors file with the given header text (length field computed) and `data_len` bytes of
 * data, all 0x11. Returns the path (caller frees). */
static char *write_st(const char *dir, const char *name, const char *header, size_t data_len) {
    char *path = rt_path_join(dir, name);
    size_t hn = strlen(header);
    uint8_t *buf = calloc(1, 8 + hn + data_len);
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)((uint64_t)hn >> (8 * i));
    memcpy(buf + 8, header, hn);
    memset(buf + 8 + hn, 0x11, data_len);
    write_bytes(path, buf, 8 + hn + data_len);
    free(buf);
    return path;
}

/* The failure must carry `code` and a one-line message naming the file and (when given) the tensor. */
static void assert_error(rt_status s, rt_status code, const char *file, const char *tensor, const char *what) {
    const char *msg = rt_errmsg();
    if (s != code || !strstr(msg, file) || (tensor && !strstr(msg, tensor)) || (what && !strstr(msg, what)) ||
        strchr(msg, '\n'))
        fail_msg("status %d (want %d), message: %s", (int)s, (int)code, msg);
}

/* Opens a file that must be rejected, checking the error as assert_error does. */
static void assert_open_fails(const char *path, rt_status code, const char *tensor, const char *what) {
    rt_st_file *f = (rt_st_file *)1;
    rt_status s = rt_st_open(path, &f);
    assert_null(f);
    assert_error(s, code, path, tensor, what);
}

/* ---- element conversions ---- */

static void test_half_conversions_exhaustive(void **state) {
    (void)state;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = rt_f16_to_f32((uint16_t)h);
#ifdef __FLT16_MAX__
        /* The compiler's own _Float16 is an independent reference for every half value. */
        _Float16 ref;
        uint16_t hb = (uint16_t)h;
        memcpy(&ref, &hb, 2);
        assert_same_float(f, (float)ref);
#endif
        if (isnan(f)) assert_true((rt_f32_to_f16(f) & 0x7c00) == 0x7c00 && (rt_f32_to_f16(f) & 0x3ff));
        else assert_int_equal(rt_f32_to_f16(f), h);
        float b = rt_bf16_to_f32((uint16_t)h);
        if (isnan(b)) assert_true(isnan(rt_bf16_to_f32(rt_f32_to_bf16(b))));
        else assert_int_equal(rt_f32_to_bf16(b), h);
    }
    assert_true(rt_f16_to_f32(0x0001) == 0x1p-24f); /* smallest subnormal */
    assert_true(rt_f16_to_f32(0x7c00) == INFINITY && rt_f16_to_f32(0xfc00) == -INFINITY);
#ifdef __FLT16_MAX__
    rt_rng rng;
    rt_rng_seed(&rng, 7);
    for (int i = 0; i < 200000; i++) {
        uint32_t u = (uint32_t)rt_rng_u64(&rng);
        float f;
        memcpy(&f, &u, 4);
        _Float16 ref = (_Float16)f;
        uint16_t rb;
        memcpy(&rb, &ref, 2);
        if (isnan(f)) assert_true(isnan(rt_f16_to_f32(rt_f32_to_f16(f))));
        else assert_int_equal(rt_f32_to_f16(f), rb);
    }
#endif
}

/* torch's F16 and BF16 roundings of values at and around ties must be ours, bit for bit. */
static void test_rounding_matches_torch(void **state) {
    (void)state;
    rt_st_file *f;
    assert_int_equal(rt_st_open(ST_DIR "/rounding.safetensors", &f), RT_OK);
    const rt_st_tensor *src = rt_st_find(f, "src"), *h = rt_st_find(f, "f16"), *b = rt_st_find(f, "bf16");
    assert_non_null(src);
    assert_non_null(h);
    assert_non_null(b);
    int64_t n = json_integer_value(json_object_get(expected("rounding"), "count"));
    assert_int_equal(src->numel, n);
    for (int64_t i = 0; i < n; i++) {
        float x;
        uint16_t want_h, want_b;
        memcpy(&x, (const uint8_t *)src->data + 4 * i, 4);
        memcpy(&want_h, (const uint8_t *)h->data + 2 * i, 2);
        memcpy(&want_b, (const uint8_t *)b->data + 2 * i, 2);
        if (isnan(x)) {
            assert_true(isnan(rt_f16_to_f32(rt_f32_to_f16(x))) && isnan(rt_bf16_to_f32(rt_f32_to_bf16(x))));
            continue;
        }
        assert_int_equal(rt_f32_to_f16(x), want_h);
        assert_int_equal(rt_f32_to_bf16(x), want_b);
    }
    rt_st_close(f);
}

/* ---- reading what Python wrote ---- */

static int is_int_dtype(const char *d) { return d[0] == 'I' || d[0] == 'U' || strcmp(d, "BOOL") == 0; }

static void test_read_mixed_fixture(void **state) {
    (void)state;
    rt_st_file *f;
    assert_int_equal(rt_st_open(MIXED, &f), RT_OK);
    json_t *tensors = json_object_get(expected("mixed"), "tensors");
    assert_int_equal(rt_st_count(f), (int)json_object_size(tensors));
    assert_string_equal(rt_st_metadata(f, "format"), "pt");
    assert_null(rt_st_metadata(f, "absent"));
    const char *name;
    json_t *want;
    json_object_foreach(tensors, name, want) {
        const rt_st_tensor *t = rt_st_find(f, name);
        assert_non_null(t);
        assert_string_equal(rt_dtype_name(t->dtype), json_string_value(json_object_get(want, "dtype")));
        int ndim;
        int64_t shape[RT_ST_MAX_DIMS];
        shape_of(json_object_get(want, "shape"), &ndim, shape);
        json_t *vals = json_object_get(want, "values");
        size_t n = json_array_size(vals);
        assert_int_equal(t->numel, (int64_t)n);
        assert_int_equal(t->nbytes, n * rt_dtype_size(t->dtype));
        float *got = malloc((n + 1) * sizeof *got);
        int32_t *ids = malloc((n + 1) * sizeof *ids);
        assert_int_equal(rt_st_read_f32(f, name, got, ndim, shape), RT_OK);
        int is_int = is_int_dtype(rt_dtype_name(t->dtype));
        for (size_t i = 0; i < n; i++) {
            json_t *v = json_array_get(vals, i);
            assert_same_float(got[i], is_int ? (float)json_integer_value(v) : hexf(v));
        }
        rt_status s = rt_st_read_i32(f, name, ids, ndim, shape);
        /* Messages show a name up to its first control character (replaced so the line stays one line). */
        char shown[64];
        size_t k = 0;
        for (; name[k] && (unsigned char)name[k] >= 0x20 && k + 1 < sizeof shown; k++) shown[k] = name[k];
        shown[k] = '\0';
        if (!is_int) {
            assert_error(s, RT_ERR_UNSUPPORTED, MIXED, shown, "not an integer type");
        } else if (strcmp(name, "big_i64") == 0) {
            assert_error(s, RT_ERR_FORMAT, MIXED, "big_i64", "1099511627776 does not fit in int32");
        } else {
            assert_int_equal(s, RT_OK);
            for (size_t i = 0; i < n; i++) assert_int_equal(ids[i], json_integer_value(json_array_get(vals, i)));
        }
        free(got);
        free(ids);
    }
    /* Tensors come back sorted by name. */
    for (int i = 1; i < rt_st_count(f); i++) assert_true(strcmp(rt_st_at(f, i - 1)->name, rt_st_at(f, i)->name) < 0);
    assert_null(rt_st_at(f, rt_st_count(f)));
    rt_st_close(f);
}

/* Checks every tensor of an opened checkpoint against the fixture's summary (shape, shard, values). */
static void check_checkpoint(rt_st_file *f, json_t *section) {
    json_t *tensors = json_object_get(section, "tensors");
    assert_int_equal(rt_st_count(f), (int)json_object_size(tensors));
    const char *name;
    json_t *want;
    json_object_foreach(tensors, name, want) {
        const rt_st_tensor *t = rt_st_find(f, name);
        assert_non_null(t);
        const char *shard = json_string_value(json_object_get(want, "shard"));
        size_t fl = strlen(t->file), sl = strlen(shard);
        assert_true(fl >= sl && strcmp(t->file + fl - sl, shard) == 0);
        int ndim;
        int64_t shape[RT_ST_MAX_DIMS];
        shape_of(json_object_get(want, "shape"), &ndim, shape);
        float *v = malloc((size_t)t->numel * sizeof *v);
        assert_int_equal(rt_st_read_f32(f, name, v, ndim, shape), RT_OK);
        json_t *first = json_object_get(want, "first");
        for (size_t i = 0; i < json_array_size(first); i++) assert_same_float(v[i], hexf(json_array_get(first, i)));
        double sum = 0;
        for (int64_t i = 0; i < t->numel; i++) sum += v[i];
        double want_sum = strtod(json_string_value(json_object_get(want, "sum")), NULL);
        assert_true(fabs(sum - want_sum) <= 1e-12 * (1 + fabs(want_sum)));
        free(v);
    }
}

static void test_read_sharded_checkpoint(void **state) {
    (void)state;
    rt_st_file *f;
    /* The index itself, and its folder (no model.safetensors there, so the index is used). */
    assert_int_equal(rt_st_open(ST_DIR "/sharded/model.safetensors.index.json", &f), RT_OK);
    check_checkpoint(f, expected("sharded"));
    assert_string_equal(rt_st_metadata(f, "format"), "pt");
    rt_st_close(f);
    assert_int_equal(rt_st_open(ST_DIR "/sharded", &f), RT_OK);
    check_checkpoint(f, expected("sharded"));
    rt_st_close(f);
    /* A folder with model.safetensors, written by transformers. */
    assert_int_equal(rt_st_open(ST_DIR "/llama_bf16/", &f), RT_OK);
    check_checkpoint(f, expected("llama_bf16"));
    assert_string_equal(rt_st_metadata(f, "format"), "pt");
    rt_st_close(f);
}

/* ---- writing ---- */

/* Rewrites every tensor of `src` through our writer into `out`. */
static void rewrite(const char *src, const char *out) {
    rt_st_file *f;
    assert_int_equal(rt_st_open(src, &f), RT_OK);
    rt_st_writer *w = rt_st_writer_new();
    for (int i = 0; i < rt_st_count(f); i++) {
        const rt_st_tensor *t = rt_st_at(f, i);
        assert_int_equal(rt_st_writer_add_raw(w, t->name, t->dtype, t->ndim, t->shape, t->data), RT_OK);
    }
    assert_int_equal(rt_st_writer_save(w, out), RT_OK);
    rt_st_writer_free(w);
    rt_st_close(f);
}

static void assert_same_file(const char *a, const char *b) {
    char *x, *y;
    size_t nx, ny;
    assert_int_equal(rt_file_read(a, &x, &nx), RT_OK);
    assert_int_equal(rt_file_read(b, &y, &ny), RT_OK);
    assert_int_equal(nx, ny);
    assert_memory_equal(x, y, nx);
    free(x);
    free(y);
}

/* Our writer reproduces the Python library's files byte for byte: header order, escaping, padding. */
static void test_writer_matches_python(void **state) {
    (void)state;
    char *dir = make_tmpdir();
    char *a = rt_path_join(dir, "mixed.safetensors"), *b = rt_path_join(dir, "model.safetensors");
    rewrite(MIXED, a);
    assert_same_file(a, MIXED);
    rewrite(ST_DIR "/llama_bf16/model.safetensors", b);
    assert_same_file(b, ST_DIR "/llama_bf16/model.safetensors");
    const char *export_dir = getenv("RT_ST_EXPORT_DIR");
    if (export_dir && *export_dir) {
        char *llama = rt_path_join(export_dir, "llama");
        assert_int_equal(rt_mkdir_p(llama), RT_OK);
        char *copy = rt_path_join(export_dir, "copy_mixed.safetensors"), *model = rt_path_join(llama, "model.safetensors");
        char *cfg = rt_path_join(llama, "config.json");
        rewrite(MIXED, copy);
        rewrite(ST_DIR "/llama_bf16/model.safetensors", model);
        copy_file(ST_DIR "/llama_bf16/config.json", cfg);
        free(copy), free(model), free(cfg), free(llama);
    }
    free(a), free(b);
    rm_tree(dir);
}

/* Every dtype survives write then read, through both add_f32 (with conversion) and add_raw. */
static void test_roundtrip_each_dtype(void **state) {
    (void)state;
    char *dir = make_tmpdir();
    char *path = rt_path_join(dir, "rt.safetensors");
    enum { N = 24 };
    const int64_t shape[3] = {2, 3, 4};
    float src[N];
    for (int i = 0; i < N; i++) src[i] = (float)(i - 11) * 0.37f + (i == 5 ? 1e-6f : 0.0f);
    int64_t i64[N];
    int32_t i32[N];
    int16_t i16[N];
    int8_t i8[N];
    uint8_t u8[N], bl[N];
    double f64[N];
    for (int i = 0; i < N; i++) {
        i64[i] = (int64_t)i * 100000 - 1000000, i32[i] = i * 1000 - 7, i16[i] = (int16_t)(i * 300 - 3000);
        i8[i] = (int8_t)(i * 9 - 100), u8[i] = (uint8_t)(i * 10), bl[i] = (uint8_t)(i % 3 == 0), f64[i] = src[i] / 3.0;
    }
    const struct {
        rt_dtype d;
        const void *raw;
    } raws[] = {{RT_DTYPE_F64, f64}, {RT_DTYPE_I64, i64}, {RT_DTYPE_I32, i32}, {RT_DTYPE_I16, i16},
                {RT_DTYPE_I8, i8},   {RT_DTYPE_U8, u8},   {RT_DTYPE_BOOL, bl}};
    rt_st_writer *w = rt_st_writer_new();
    assert_int_equal(rt_st_writer_add_f32(w, "f32", RT_DTYPE_F32, 3, shape, src), RT_OK);
    assert_int_equal(rt_st_writer_add_f32(w, "f16", RT_DTYPE_F16, 3, shape, src), RT_OK);
    assert_int_equal(rt_st_writer_add_f32(w, "bf16", RT_DTYPE_BF16, 3, shape, src), RT_OK);
    for (size_t k = 0; k < sizeof raws / sizeof raws[0]; k++)
        assert_int_equal(rt_st_writer_add_raw(w, rt_dtype_name(raws[k].d), raws[k].d, 3, shape, raws[k].raw), RT_OK);
    assert_int_equal(rt_st_writer_set_metadata(w, "step", "42"), RT_OK);
    /* Misuse is refused with a message, not a crash. */
    assert_int_equal(rt_st_writer_add_f32(w, "f32", RT_DTYPE_F32, 3, shape, src), RT_ERR_ARG);
    assert_non_null(strstr(rt_errmsg(), "'f32'"));
    assert_int_equal(rt_st_writer_add_f32(w, "x", RT_DTYPE_I32, 3, shape, src), RT_ERR_ARG);
    assert_int_equal(rt_st_writer_add_raw(w, "__metadata__", RT_DTYPE_U8, 3, shape, u8), RT_ERR_ARG);
    assert_int_equal(rt_st_writer_add_raw(w, "y", RT_DTYPE_U8, RT_ST_MAX_DIMS + 1, shape, u8), RT_ERR_ARG);
    assert_int_equal(rt_st_writer_save(w, path), RT_OK);
    rt_st_writer_free(w);
    const char *export_dir = getenv("RT_ST_EXPORT_DIR");
    if (export_dir && *export_dir) {
        char *keep = rt_path_join(export_dir, "roundtrip_all_dtypes.safetensors");
        copy_file(path, keep);
        free(keep);
    }

    rt_st_file *f;
    assert_int_equal(rt_st_open(path, &f), RT_OK);
    assert_int_equal(rt_st_count(f), 10);
    assert_string_equal(rt_st_metadata(f, "format"), "pt");
    assert_string_equal(rt_st_metadata(f, "step"), "42");
    float got[N];
    int32_t ids[N];
    assert_int_equal(rt_st_read_f32(f, "f32", got, 3, shape), RT_OK);
    for (int i = 0; i < N; i++) assert_same_float(got[i], src[i]);
    assert_int_equal(rt_st_read_f32(f, "f16", got, 3, shape), RT_OK);
    for (int i = 0; i < N; i++) assert_same_float(got[i], rt_f16_to_f32(rt_f32_to_f16(src[i])));
    assert_int_equal(rt_st_read_f32(f, "bf16", got, 3, shape), RT_OK);
    for (int i = 0; i < N; i++) assert_same_float(got[i], rt_bf16_to_f32(rt_f32_to_bf16(src[i])));
    assert_int_equal(rt_st_read_f32(f, "F64", got, 3, shape), RT_OK);
    for (int i = 0; i < N; i++) assert_same_float(got[i], (float)f64[i]);
    const char *ints[] = {"I64", "I32", "I16", "I8", "U8", "BOOL"};
    for (int k = 0; k < 6; k++) {
        assert_int_equal(rt_st_read_i32(f, ints[k], ids, 3, shape), RT_OK);
        assert_int_equal(rt_st_read_f32(f, ints[k], got, 3, shape), RT_OK);
        for (int i = 0; i < N; i++) {
            int64_t want = k == 0 ? i64[i] : k == 1 ? i32[i] : k == 2 ? i16[i] : k == 3 ? i8[i] : k == 4 ? u8[i] : bl[i];
            assert_int_equal(ids[i], want);
            assert_same_float(got[i], (float)want);
        }
    }
    /* Every tensor's data is aligned to its element size, as in the Python library's layout. */
    for (int i = 0; i < rt_st_count(f); i++) {
        const rt_st_tensor *t = rt_st_at(f, i);
        assert_int_equal((uintptr_t)t->data % rt_dtype_size(t->dtype), 0);
    }
    rt_st_close(f);
    free(path);
    rm_tree(dir);
}

/* A large BF16 tensor takes the parallel path; it must agree with the element conversion. */
static void test_large_bf16_read(void **state) {
    (void)state;
    char *dir = make_tmpdir();
    char *path = rt_path_join(dir, "big.safetensors");
    const int64_t shape[2] = {1024, 600};
    size_t n = (size_t)(shape[0] * shape[1]);
    uint16_t *raw = malloc(n * 2);
    rt_rng rng;
    rt_rng_seed(&rng, 3);
    for (size_t i = 0; i < n; i++) raw[i] = (uint16_t)rt_rng_u64(&rng);
    rt_st_writer *w = rt_st_writer_new();
    assert_int_equal(rt_st_writer_add_raw(w, "big", RT_DTYPE_BF16, 2, shape, raw), RT_OK);
    assert_int_equal(rt_st_writer_save(w, path), RT_OK);
    rt_st_writer_free(w);
    rt_st_file *f;
    assert_int_equal(rt_st_open(path, &f), RT_OK);
    float *out = malloc(n * sizeof *out);
    assert_int_equal(rt_st_read_f32(f, "big", out, 2, shape), RT_OK);
    for (size_t i = 0; i < n; i++) assert_same_float(out[i], rt_bf16_to_f32(raw[i]));
    rt_st_close(f);
    free(out);
    free(raw);
    free(path);
    rm_tree(dir);
}

/* ---- bad input: one test each ---- */

static void test_bad_truncated(void **state) {
    (void)state;
    char *dir = make_tmpdir();
    char *data;
    size_t n;
    assert_int_equal(rt_file_read(MIXED, &data, &n), RT_OK);
    char *p = rt_path_join(dir, "short.safetensors");
    write_bytes(p, data, 5);
    assert_open_fails(p, RT_ERR_FORMAT, NULL, "truncated");
    write_bytes(p, data, 0);
    assert_open_fails(p, RT_ERR_FORMAT, NULL, "truncated");
    /* Cut inside the data: the last tensor in the layout (mask) now runs past the end. */
    write_bytes(p, data, n - 2);
    assert_open_fails(p, RT_ERR_FORMAT, "mask", "run past");
    free(data);
    free(p);
    rm_tree(dir);
}

static void test_bad_header_length(void **state) {
    (void)state;
    char *dir = make_tmpdir();
    char *p = rt_path_join(dir, "len.safetensors");
    uint8_t buf[16] = {0xff, 0xff, 0, 0, 0, 0, 0, 0, '{', '}'};
    write_bytes(p, buf, sizeof buf);
    assert_open_fails(p, RT_ERR_FORMAT, NULL, "header length 65535 is larger than the 8 bytes");
    /* Huge lengths (wrapping arithmetic would make them look small) are refused the same way. */
    memset(buf, 0xff, 8);
    write_bytes(p, buf, sizeof buf);
    assert_open_fails(p, RT_ERR_FORMAT, NULL, "larger than");
    free(p);
    rm_tree(dir);
}

static void test_bad_header_not_json(void **state) {
    (void)state;
    char *dir = make_tmpdir();
    char *p = write_st(dir, "a.safetensors", "{\"w\": {\"dtype\": \"F32\", ", 0);
    assert_open_fails(p, RT_ERR_FORMAT, NULL, "not valid JSON");
    free(p);
    p = write_st(dir, "b.safetensors", "[1, 2]", 0);
    assert_open_fails(p, RT_ERR_FORMAT, NULL, "not a JSON object");
    free(p);
    p = write_st(dir, "c.safetensors", "{\"w\": 1, \"w\": 2}", 0);
    assert_open_fails(p, RT_ERR_FORMAT, NULL, "duplicate");
    free(p);
    p = write_st(dir, "d.safetensors", "{\"\xff\": 1}", 0); /* not UTF-8 */
    assert_open_fails(p, RT_ERR_FORMAT, NULL, "not valid JSON");
    free(p);
    rm_tree(dir);
}

static void test_bad_offsets_out_of_range(void **state) {
    (void)state;
    char *dir = make_tmpdir();
    char *p = write_st(dir, "a.safetensors", "{\"w.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 12);
    assert_open_fails(p, RT_ERR_FORMAT, "w.weight", "data_offsets [0, 16] run past the 12 data bytes");
    free(p);
    p = write_st(dir, "b.safetensors", "{\"w.weight\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,4]}}", 12);
    assert_open_fails(p, RT_ERR_FORMAT, "w.weight", "end before they begin");
    free(p);
    p = write_st(dir, "c.safetensors", "{\"w.weight\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 12);
    assert_open_fails(p, RT_ERR_FORMAT, "w.weight", "non-negative");
    free(p);
    rm_tree(dir);
}

static void test_bad_offsets_overlap(void **state) {
    (void)state;
    char *dir = make_tmpdir();
    char *p = write_st(dir, "a.safetensors",
                       "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                       "\"b\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[6,10]}}",
                       16);
    assert_open_fails(p, RT_ERR_FORMAT, "'b'", "overlap tensor 'a'");
    free(p);
    rm_tree(dir);
}

static void test_bad_size_not_shape_times_dtype(void **state) {
    (void)state;
    char *dir = make_tmpdir();
    char *p = write_st(dir, "a.safetensors", "{\"emb\":{\"dtype\":\"BF16\",\"shape\":[3,4],\"data_offsets\":[0,48]}}", 48);
    assert_open_fails(p, RT_ERR_FORMAT, "emb", "span 48 bytes but shape [3, 4] of BF16 needs 24");
    free(p);
    /* A shape whose element count overflows 64 bits. */
    p = write_st(dir, "b.safetensors",
                 "{\"emb\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]}}", 4);
    assert_open_fails(p, RT_ERR_FORMAT, "emb", "overflows");
    free(p);
    p = write_st(dir, "c.safetensors", "{\"emb\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4);
    assert_open_fails(p, RT_ERR_FORMAT, "emb", "shape entry 0");
    free(p);
    p = write_st(dir, "d.safetensors", "{\"emb\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}", 1);
    assert_open_fails(p, RT_ERR_UNSUPPORTED, "emb", "9 dimensions");
    free(p);
    p = write_st(dir, "e.safetensors", "{\"emb\":{\"dtype\":\"U8\",\"data_offsets\":[0,1]}}", 1);
    assert_open_fails(p, RT_ERR_FORMAT, "emb", "'shape'");
    free(p);
    p = write_st(dir, "f.safetensors", "{\"__metadata__\":{\"format\":1}}", 0);
    assert_open_fails(p, RT_ERR_FORMAT, "format", "not a string");
    free(p);
    rm_tree(dir);
}

static void test_bad_unknown_dtype(void **state) {
    (void)state;
    char *dir = make_tmpdir();
    char *p = write_st(dir, "fp8.safetensors",
                       "{\"layers.0.q_proj.weight\":{\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2);
    assert_open_fails(p, RT_ERR_UNSUPPORTED, "layers.0.q_proj.weight", "unsupported dtype 'F8_E4M3'");
    free(p);
    rm_tree(dir);
}

static void test_bad_shape_on_read(void **state) {
    (void)state;
    rt_st_file *f;
    assert_int_equal(rt_st_open(MIXED, &f), RT_OK);
    float out[15];
    const int64_t wrong[2] = {5, 3};
    assert_error(rt_st_read_f32(f, "w_bf16", out, 2, wrong), RT_ERR_SHAPE, MIXED, "w_bf16",
                 "expected shape [5, 3], file has [3, 5]");
    assert_error(rt_st_read_f32(f, "w_bf16", out, 1, wrong), RT_ERR_SHAPE, MIXED, "w_bf16", "[5]");
    rt_st_close(f);
}

static void test_bad_missing_tensor(void **state) {
    (void)state;
    rt_st_file *f;
    assert_int_equal(rt_st_open(MIXED, &f), RT_OK);
    float out[4];
    const int64_t shape[1] = {4};
    assert_null(rt_st_find(f, "model.norm.weight"));
    assert_error(rt_st_read_f32(f, "model.norm.weight", out, 1, shape), RT_ERR_NOT_FOUND, MIXED, "model.norm.weight",
                 "not found");
    rt_st_close(f);
    assert_open_fails(ST_DIR "/no_such.safetensors", RT_ERR_NOT_FOUND, NULL, "cannot open");
    char *dir = make_tmpdir();
    assert_open_fails(dir, RT_ERR_NOT_FOUND, NULL, "neither model.safetensors nor model.safetensors.index.json");
    rm_tree(dir);
}

static void test_bad_missing_shard(void **state) {
    (void)state;
    char *dir = make_tmpdir();
    char *index = rt_path_join(dir, "model.safetensors.index.json");
    char *shard1 = rt_path_join(dir, "model-00001-of-00002.safetensors");
    copy_file(ST_DIR "/sharded/model.safetensors.index.json", index);
    copy_file(ST_DIR "/sharded/model-00001-of-00002.safetensors", shard1);
    assert_open_fails(index, RT_ERR_NOT_FOUND, "model-00002-of-00002.safetensors", "cannot open");
    /* The folder form names the index too. */
    rt_st_file *f;
    assert_error(rt_st_open(dir, &f), RT_ERR_NOT_FOUND, index, "model-00002-of-00002.safetensors", NULL);
    /* The shard exists but lacks a tensor the weight_map promises. */
    char *shard2 = rt_path_join(dir, "model-00002-of-00002.safetensors");
    rt_st_writer *w = rt_st_writer_new();
    const int64_t shape[1] = {1};
    const float one = 1.0f;
    assert_int_equal(rt_st_writer_add_f32(w, "unrelated", RT_DTYPE_F32, 1, shape, &one), RT_OK);
    assert_int_equal(rt_st_writer_save(w, shard2), RT_OK);
    rt_st_writer_free(w);
    assert_open_fails(index, RT_ERR_NOT_FOUND, "lm_head.weight", "not found in shard 'model-00002-of-00002.safetensors'");
    free(index), free(shard1), free(shard2);
    rm_tree(dir);
}

/* Random corruptions of a real file: each either opens and reads, or fails with a one-line message. */
static void test_corrupted_never_crash(void **state) {
    (void)state;
    char *data;
    size_t n;
    assert_int_equal(rt_file_read(MIXED, &data, &n), RT_OK);
    uint8_t *buf = malloc(n);
    rt_rng rng;
    rt_rng_seed(&rng, 11);
    int opened = 0;
    for (int iter = 0; iter < 3000; iter++) {
        memcpy(buf, data, n);
        int flips = 1 + (int)rt_rng_below(&rng, 4);
        for (int k = 0; k < flips; k++) buf[rt_rng_below(&rng, n)] = (uint8_t)rt_rng_u64(&rng);
        size_t len = rt_rng_below(&rng, 4) == 0 ? rt_rng_below(&rng, n + 1) : n;
        rt_st_file *f;
        rt_status s = rt_st_open_buffer(buf, len, "corrupt.safetensors", &f);
        if (s != RT_OK) {
            assert_non_null(strstr(rt_errmsg(), "corrupt.safetensors"));
            assert_null(strchr(rt_errmsg(), '\n'));
            continue;
        }
        opened++;
        for (int i = 0; i < rt_st_count(f); i++) {
            const rt_st_tensor *t = rt_st_at(f, i);
            float *out = malloc((size_t)t->numel * sizeof *out + 1);
            assert_int_equal(rt_st_read_f32(f, t->name, out, t->ndim, t->shape), RT_OK);
            free(out);
        }
        rt_st_close(f);
    }
    assert_true(opened > 0); /* flips inside tensor data leave the file valid */
    free(buf);
    free(data);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_half_conversions_exhaustive),
        cmocka_unit_test(test_rounding_matches_torch),
        cmocka_unit_test(test_read_mixed_fixture),
        cmocka_unit_test(test_read_sharded_checkpoint),
        cmocka_unit_test(test_writer_matches_python),
        cmocka_unit_test(test_roundtrip_each_dtype),
        cmocka_unit_test(test_large_bf16_read),
        cmocka_unit_test(test_bad_truncated),
        cmocka_unit_test(test_bad_header_length),
        cmocka_unit_test(test_bad_header_not_json),
        cmocka_unit_test(test_bad_offsets_out_of_range),
        cmocka_unit_test(test_bad_offsets_overlap),
        cmocka_unit_test(test_bad_size_not_shape_times_dtype),
        cmocka_unit_test(test_bad_unknown_dtype),
        cmocka_unit_test(test_bad_shape_on_read),
        cmocka_unit_test(test_bad_missing_tensor),
        cmocka_unit_test(test_bad_missing_shard),
        cmocka_unit_test(test_corrupted_never_crash),
    };
    return cmocka_run_group_tests(tests, setup_expected, teardown_expected);
}
